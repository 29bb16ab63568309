namespace UKan.Training.Distributed;

/// <summary>
/// How one worker of a data-parallel run takes part (PyTorch DistributedDataParallel's semantics): its
/// <see cref="Collectives"/> and whether batch norm statistics are shared across workers (<c>--sync-bn</c>).
/// </summary>
public sealed record DataParallel(ICollectives Collectives, bool SyncBatchNorm)
{
    public int Rank => Collectives.Rank;
    public int WorldSize => Collectives.WorldSize;
    /// <summary>Rank 0 writes the run folder (config, checkpoints, metrics, pictures) and validates.</summary>
    public bool IsLeader => Collectives.Rank == 0;
}
