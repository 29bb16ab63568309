using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Data;

/// <summary>A batch ready for the network: (B, C, H, W) images and (B, classes, H, W) targets in CHW float32.</summary>
public sealed record SegmentationBatch(string[] Ids, float[] Images, float[] Targets, int Channels, int Classes, int Height, int Width)
{
    public int Count => Ids.Length;

    public (Tensor Images, Tensor Targets) ToTensors(Device device) =>
        (tensor(Images).reshape(Count, Channels, Height, Width).to(device),
         tensor(Targets).reshape(Count, Classes, Height, Width).to(device));
}

/// <summary>
/// The samples of a dataset folder at the training resolution, augmented for training or plain for validation,
/// assembled into batches in parallel. Decoded originals are cached in memory (augmentation runs on originals, as
/// the reference does, so resized copies cannot be cached).
/// </summary>
public sealed class SegmentationDataset
{
    readonly SegmentationFolder folder;
    readonly ConcurrentDictionary<string, (Raster Image, Raster[] Masks)> cache = new();
    readonly bool cacheDecoded;

    public PreprocessingPreset Preset { get; }
    public int Height { get; }
    public int Width { get; }
    public int Classes => folder.NumClasses;
    public int Channels { get; }
    public SegmentationFolder Folder => folder;

    public SegmentationDataset(SegmentationFolder folder, int height, int width, PreprocessingPreset preset, int channels = 3, bool cacheDecoded = true)
    {
        this.folder = folder;
        (Height, Width, Preset, Channels, this.cacheDecoded) = (height, width, preset, channels, cacheDecoded);
        if (channels is not (1 or 3)) throw new UserError($"--in-channels {channels}: images can be fed as 1 (grey) or 3 (colour) channels.");
    }

    (Raster Image, Raster[] Masks) Decoded(string id)
    {
        if (cacheDecoded && cache.TryGetValue(id, out var hit)) return hit;
        var (image, masks) = folder.LoadSample(id, Preprocessing.Order(Preset));
        if (Channels == 1) image = ImageOps.ToGray8(image);
        var value = (image, masks.Select(m => m.Grey).ToArray());
        if (cacheDecoded) cache[id] = value;
        return value;
    }

    /// <summary>A sample at the training resolution for display: RGB image and 0/1 masks per class, no augmentation.</summary>
    public (Raster Image, byte[][] Masks) Display(string id)
    {
        var (image, masks) = Decoded(id);
        var (img, msk) = Preprocessing.Geometry(image, masks, AugmentChoice.None, Height, Width, Preset);
        if (Preprocessing.Order(Preset) == ChannelOrder.Bgr && img.Channels == 3) img = SwapRedBlue(img);
        return (img, msk.Select(m => Mask.Binarize(m.Pixels8)).ToArray());
    }

    static Raster SwapRedBlue(Raster bgr)
    {
        var p = (byte[])bgr.Pixels8.Clone();
        for (int i = 0; i < p.Length; i += 3) (p[i], p[i + 2]) = (p[i + 2], p[i]);
        return Raster.Create8(bgr.Width, bgr.Height, 3, p);
    }

    /// <summary>Builds a batch; <paramref name="choice"/> gives each position's augmentation (None for validation).</summary>
    public SegmentationBatch Batch(IReadOnlyList<string> ids, Func<int, AugmentChoice> choice)
    {
        int n = ids.Count, hw = Height * Width;
        var images = new float[n * Channels * hw];
        var targets = new float[n * Classes * hw];
        Parallel.For(0, n, i =>
        {
            var (image, masks) = Decoded(ids[i]);
            var (img, msk) = Preprocessing.Geometry(image, masks, choice(i), Height, Width, Preset);
            Preprocessing.ImageToChw(img, Preset, images.AsSpan(i * Channels * hw, Channels * hw));
            Preprocessing.MasksToChw(msk, Preset, targets.AsSpan(i * Classes * hw, Classes * hw));
        });
        return new SegmentationBatch(ids.ToArray(), images, targets, Channels, Classes, Height, Width);
    }

    /// <summary>
    /// One epoch of training batches: ids shuffled by (seed, epoch), incomplete last batch dropped (drop_last, as the
    /// reference), augmentation drawn per sample from (seed, epoch, position) so that a resumed run repeats exactly.
    /// </summary>
    public IEnumerable<Func<SegmentationBatch>> TrainingEpoch(IReadOnlyList<string> trainIds, int batchSize, long seed, int epoch)
    {
        var order = trainIds.ToList();
        SplitMix64.For(seed, epoch).Shuffle(order);
        for (int b = 0; b + batchSize <= order.Count; b += batchSize)
        {
            int start = b;
            var ids = order.GetRange(start, batchSize);
            yield return () => Batch(ids, i => AugmentChoice.Draw(SplitMix64.For(seed, epoch, start + i)));
        }
    }

    /// <summary>Validation batches in the given order, no augmentation, the last batch may be smaller.</summary>
    public IEnumerable<Func<SegmentationBatch>> Plain(IReadOnlyList<string> ids, int batchSize)
    {
        for (int b = 0; b < ids.Count; b += batchSize)
        {
            var chunk = ids.Skip(b).Take(batchSize).ToList();
            yield return () => Batch(chunk, _ => AugmentChoice.None);
        }
    }
}

/// <summary>Runs batch preparation on the thread pool, a few batches ahead of the consumer (the GPU).</summary>
public static class Prefetch
{
    public static IEnumerable<T> Ahead<T>(IEnumerable<Func<T>> producers, int depth = 2, CancellationToken cancel = default)
    {
        var queue = new Queue<Task<T>>();
        using var e = producers.GetEnumerator();
        bool more = true;
        void Fill()
        {
            while (more && queue.Count < depth)
            {
                if (!(more = e.MoveNext())) break;
                var make = e.Current;
                queue.Enqueue(Task.Run(make, cancel));
            }
        }
        Fill();
        while (queue.Count > 0)
        {
            var next = queue.Dequeue();
            Fill();
            yield return next.GetAwaiter().GetResult();
        }
    }
}
