using UKan.Data;

namespace UKan.Training.Distributed;

/// <summary>
/// Splits an epoch's seeded shuffle between the workers of a data-parallel run so that every training image is seen
/// once per epoch, by exactly one worker. The global plan is the single-process plan with the global batch
/// (per-worker batch × workers, <see cref="SegmentationDataset.EpochPlan"/>, drop_last over the global batch), and
/// worker r takes images [r·B, (r+1)·B) of every global batch, each with the augmentation drawn for its global
/// position. So N workers with batch B see exactly the images and augmentations one process with batch N·B sees,
/// step by step; resuming a run on another number of workers at the same global batch continues the same order.
/// </summary>
/// <remarks>
/// torch's DistributedSampler instead deals the shuffled indices round-robin (r, r+N, ...) and pads or drops to a
/// multiple of N; both are one pass over a permutation per epoch. Contiguous slices of the global batch are used here
/// because they make the one-process and the N-process runs comparable batch by batch.
/// </remarks>
public static class DistributedSampler
{
    /// <summary>Worker <paramref name="rank"/>'s batches of <paramref name="batch"/> images for <paramref name="epoch"/>.</summary>
    public static IReadOnlyList<BatchPlan> EpochPlan(IReadOnlyList<string> trainIds, int batch, long seed, int epoch, int rank, int worldSize)
    {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {worldSize}");
        var global = SegmentationDataset.EpochPlan(trainIds, batch * worldSize, seed, epoch);
        return global.Select(g => new BatchPlan(g.Ids[(rank * batch)..((rank + 1) * batch)], g.Choices[(rank * batch)..((rank + 1) * batch)])).ToList();
    }
}
