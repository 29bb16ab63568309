using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Data;

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

    /// <summary>
    /// A sample as decoded for training: the image in the preset's channel order (grey when the model takes one
    /// channel) at its stored size, and the grey class masks. Cached when the dataset caches decoded originals.
    /// </summary>
    public (Raster Image, Raster[] Masks) Decoded(string id)
    {
        if (cacheDecoded && cache.TryGetValue(id, out var hit)) return hit;
        var (image, masks) = folder.LoadSample(id, Preprocessing.Order(Preset));
        if (Channels == 1) image = ImageOps.ToGray8(image);
        var value = (image, masks.Select(m => m.Grey).ToArray());
        if (cacheDecoded) cache[id] = value;
        return value;
    }

    /// <summary>
    /// A sample at the training resolution for display: RGB image and 0/1 masks per class, no augmentation; for label
    /// maps the one map of class indices.
    /// </summary>
    public (Raster Image, byte[][] Masks) Display(string id)
    {
        var (image, masks) = Decoded(id);
        var (img, msk) = Preprocessing.Geometry(image, masks, AugmentChoice.None, Height, Width, Preset);
        if (Preprocessing.Order(Preset) == ChannelOrder.Bgr && img.Channels == 3) img = SwapRedBlue(img);
        return (img, folder.LabelMaps ? [msk[0].Pixels8] : msk.Select(m => Mask.Binarize(m.Pixels8)).ToArray());
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
            var destination = targets.AsSpan(i * Classes * hw, Classes * hw);
            if (folder.LabelMaps) LabelMap.ToOneHot(msk[0].Pixels8, Classes, destination);
            else Preprocessing.MasksToChw(msk, Preset, destination);
        });
        return new SegmentationBatch(ids.ToArray(), images, targets, Channels, Classes, Height, Width);
    }

    /// <summary>Decodes every given sample once, in parallel, into the cache (start-up work that would otherwise fall in the first epoch).</summary>
    public void DecodeAll(IReadOnlyList<string> ids) =>
        Parallel.For(0, ids.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i => Decoded(ids[i]));

    /// <summary>
    /// One epoch of training batches: ids shuffled by (seed, epoch), incomplete last batch dropped (drop_last, as the
    /// reference), augmentation drawn per sample from (seed, epoch, position) so that a resumed run repeats exactly.
    /// The host path (<see cref="TrainingEpoch"/>) and the device path (<see cref="DeviceDataset"/>) both follow it.
    /// </summary>
    public static IReadOnlyList<BatchPlan> EpochPlan(IReadOnlyList<string> trainIds, int batchSize, long seed, int epoch)
    {
        var order = trainIds.ToList();
        SplitMix64.For(seed, epoch).Shuffle(order);
        var plan = new List<BatchPlan>();
        for (int b = 0; b + batchSize <= order.Count; b += batchSize)
            plan.Add(new BatchPlan(order.GetRange(b, batchSize).ToArray(),
                Enumerable.Range(0, batchSize).Select(i => AugmentChoice.Draw(SplitMix64.For(seed, epoch, b + i))).ToArray()));
        return plan;
    }

    /// <summary>The batches of <see cref="EpochPlan"/>, built on the host.</summary>
    public IEnumerable<Func<SegmentationBatch>> TrainingEpoch(IReadOnlyList<string> trainIds, int batchSize, long seed, int epoch) =>
        TrainingBatches(EpochPlan(trainIds, batchSize, seed, epoch));

    /// <summary>The batches of a plan (one worker's share of an epoch, say), built on the host.</summary>
    public IEnumerable<Func<SegmentationBatch>> TrainingBatches(IEnumerable<BatchPlan> plan) =>
        plan.Select(b => (Func<SegmentationBatch>)(() => Batch(b.Ids, i => b.Choices[i])));

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
