using UKan.Data;
using static TorchSharp.torch;

namespace UKan.Tests.Data;

/// <summary>
/// The device data path must give the network exactly what the host path gives it, for every augmentation draw:
/// identical to the bit (rotations, flips and nearest resizes are index arithmetic; the bilinear resize and the
/// normalisation repeat the host's float operations). Checked here on the CPU, where both run.
/// </summary>
public class DeviceDatasetTests
{
    /// <summary>Images of several sizes (square, tall, wide), soft mask edges, masks of 0/1 and of 0..255, two classes.</summary>
    static string MixedDataset(int classes)
    {
        var root = Path.Combine(Path.GetTempPath(), $"ukan-mixed-{Guid.NewGuid():N}");
        var rng = new Random(7);
        (int W, int H)[] sizes = [(64, 64), (40, 56), (47, 33), (80, 30), (32, 48), (25, 25)];
        Directory.CreateDirectory(Path.Combine(root, "images"));
        for (int c = 0; c < classes; c++) Directory.CreateDirectory(Path.Combine(root, "masks", c.ToString()));
        for (int k = 0; k < sizes.Length; k++)
        {
            var (w, h) = sizes[k];
            var img = new byte[w * h * 3];
            rng.NextBytes(img);
            ImageFile.WritePng(Path.Combine(root, "images", $"s{k}.png"), Raster.Create8(w, h, 3, img));
            for (int c = 0; c < classes; c++)
            {
                var mask = new byte[w * h];
                for (int i = 0; i < mask.Length; i++)
                {
                    int x = i % w, y = i / w;
                    bool inside = (x - w / 2) * (x - w / 2) + (y - h / 3 - c) * (y - h / 3 - c) < w * h / 8;
                    // Sample 1 stores 0/1 masks; the others 0/255 with a few soft values, which the official rule keeps fractional.
                    mask[i] = k == 1 ? (byte)(inside ? 1 : 0) : inside ? (byte)255 : (byte)(rng.Next(10) == 0 ? rng.Next(1, 255) : 0);
                }
                ImageFile.WritePng(Path.Combine(root, "masks", c.ToString(), $"s{k}.png"), Raster.Create8(w, h, 1, mask));
            }
        }
        return root;
    }

    static IEnumerable<AugmentChoice> EveryChoice() =>
        from k in Enumerable.Range(0, 4) from f in new int?[] { null, -1, 0, 1 } select new AugmentChoice(k, f);

    [Theory]
    [InlineData(PreprocessingPreset.Official, 3, 1, 32, 48)]
    [InlineData(PreprocessingPreset.Official, 3, 2, 64, 64)]
    [InlineData(PreprocessingPreset.Standard, 3, 2, 48, 32)]
    [InlineData(PreprocessingPreset.Standard, 1, 1, 32, 32)]
    [InlineData(PreprocessingPreset.Official, 1, 1, 25, 25)]
    public void Device_batches_equal_host_batches_to_the_bit(PreprocessingPreset preset, int channels, int classes, int height, int width)
    {
        _ = TestTorch.Runtime;
        var folder = new SegmentationFolder(MixedDataset(classes), classes);
        var dataset = new SegmentationDataset(folder, height, width, preset, channels);
        var ids = folder.Ids.ToList();
        using var onDevice = new DeviceDataset(dataset, ids, CPU);
        var choices = EveryChoice().ToList();
        // Every draw on every sample, in batches of 4 (a sample may appear twice in a batch).
        var plans = Enumerable.Range(0, choices.Count * ids.Count / 4).Select(b => new BatchPlan(
            Enumerable.Range(0, 4).Select(i => ids[(b * 4 + i) % ids.Count]).ToArray(),
            Enumerable.Range(0, 4).Select(i => choices[(b * 4 + i) / ids.Count % choices.Count]).ToArray())).ToList();
        using var plan = onDevice.UploadPlan(plans);
        var x = zeros(4, channels, height, width);
        var t = zeros(4, classes, height, width);
        for (int b = 0; b < plans.Count; b++)
        {
            onDevice.Fill(plan[b], x, t);
            var host = dataset.Batch(plans[b].Ids, i => plans[b].Choices[i]);
            Assert.Equal(host.Images, x.contiguous().data<float>().ToArray());
            Assert.Equal(host.Targets, t.contiguous().data<float>().ToArray());
        }
    }

    [Fact]
    public void Channels_last_buffers_receive_the_same_values()
    {
        _ = TestTorch.Runtime;
        var folder = new SegmentationFolder(MixedDataset(1), 1);
        var dataset = new SegmentationDataset(folder, 32, 32, PreprocessingPreset.Official);
        var ids = folder.Ids.Take(2).ToArray();
        using var onDevice = new DeviceDataset(dataset, ids, CPU);
        var batch = new BatchPlan(ids, [new AugmentChoice(1, 0), new AugmentChoice(3, null)]);
        using var plan = onDevice.UploadPlan([batch]);
        var nhwc = zeros(2, 32, 32, 3).permute(0, 3, 1, 2);
        var t = zeros(2, 1, 32, 32);
        onDevice.Fill(plan[0], nhwc, t);
        Assert.Equal(dataset.Batch(batch.Ids, i => batch.Choices[i]).Images, nhwc.contiguous().data<float>().ToArray());
    }

    [Fact]
    public void The_affine_map_is_rot90_then_flip()
    {
        // A 3x5 image whose pixel values are their own index, through every draw: the map must name the source pixel.
        var pixels = Enumerable.Range(0, 15).Select(i => (byte)i).ToArray();
        var image = Raster.Create8(5, 3, 1, pixels);
        foreach (var choice in EveryChoice())
        {
            var r = Augmentation.Rot90(image, choice.Rot90);
            if (choice.FlipCode is int code) r = Augmentation.Flip(r, code);
            var a = DeviceDataset.Affine(choice, 3, 5);
            for (int ry = 0; ry < r.Height; ry++)
                for (int rx = 0; rx < r.Width; rx++)
                {
                    long oy = a[0] * ry + a[1] * rx + a[2], ox = a[3] * ry + a[4] * rx + a[5];
                    Assert.Equal(r.Pixels8[ry * r.Width + rx], pixels[oy * 5 + ox]);
                }
        }
    }
}
