using UKan.Data;
using static TorchSharp.torch;

namespace UKan.Diagnostics;

/// <summary>
/// Checks on the compute device that the device data path (<see cref="DeviceDataset"/>) builds the same batches as the
/// host path for every augmentation draw (4 rotations × 4 flip choices), on a small generated dataset of several
/// sizes (square, tall, wide; up- and down-sampling) with soft mask values, in both preprocessing presets. The bound
/// is zero: the two paths must agree to the bit.
/// </summary>
public static class DataPathParity
{
    public static IReadOnlyList<ParityCheck> Run(Device device)
    {
        var root = Path.Combine(Path.GetTempPath(), $"ukan-datapath-{Guid.NewGuid():N}");
        try
        {
            WriteDataset(root);
            var folder = new SegmentationFolder(root);
            var ids = folder.Ids.ToList();
            var choices = (from k in Enumerable.Range(0, 4) from f in new int?[] { null, -1, 0, 1 } select new AugmentChoice(k, f)).ToList();
            var checks = new List<ParityCheck>();
            foreach (var preset in new[] { PreprocessingPreset.Official, PreprocessingPreset.Standard })
            {
                var dataset = new SegmentationDataset(folder, 64, 96, preset);
                using var onDevice = new DeviceDataset(dataset, ids, device);
                var plans = choices.Select(c => new BatchPlan(ids.ToArray(), ids.Select(_ => c).ToArray())).ToList();
                using var plan = onDevice.UploadPlan(plans);
                var x = zeros(ids.Count, 3, 64, 96, device: device);
                var t = zeros(ids.Count, 1, 64, 96, device: device);
                var (xs, ts, xh, th) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
                for (int b = 0; b < plans.Count; b++)
                {
                    onDevice.Fill(plan[b], x, t);
                    xs.Add(x.clone().cpu());   // clone: on the CPU, cpu() returns the buffer itself
                    ts.Add(t.clone().cpu());
                    var (hx, ht) = dataset.Batch(plans[b].Ids, i => plans[b].Choices[i]).ToTensors(CPU);
                    xh.Add(hx);
                    th.Add(ht);
                }
                checks.Add(DeviceParity.Compare($"data path ({preset}): device vs host images", cat(xs), cat(xh), 0));
                checks.Add(DeviceParity.Compare($"data path ({preset}): device vs host targets", cat(ts), cat(th), 0));
            }
            return checks;
        }
        finally
        {
            try { Directory.Delete(root, recursive: true); } catch (IOException) { }
        }
    }

    static void WriteDataset(string root)
    {
        var rng = new Random(11);
        Directory.CreateDirectory(Path.Combine(root, "images"));
        Directory.CreateDirectory(Path.Combine(root, "masks", "0"));
        (int W, int H)[] sizes = [(64, 64), (57, 130), (150, 41), (96, 64)];
        for (int k = 0; k < sizes.Length; k++)
        {
            var (w, h) = sizes[k];
            var pixels = new byte[w * h * 3];
            rng.NextBytes(pixels);
            var mask = new byte[w * h];
            for (int i = 0; i < mask.Length; i++)
                mask[i] = (i % w - w / 2) * (i % w - w / 2) + (i / w - h / 2) * (i / w - h / 2) < w * h / 6 ? (byte)255 : (byte)(rng.Next(8) == 0 ? rng.Next(256) : 0);
            ImageFile.WritePng(Path.Combine(root, "images", $"d{k}.png"), Raster.Create8(w, h, 3, pixels));
            ImageFile.WritePng(Path.Combine(root, "masks", "0", $"d{k}.png"), Raster.Create8(w, h, 1, mask));
        }
    }
}
