namespace UKan.Training.Distributed;

/// <summary>
/// How one worker of a data-parallel run takes part (PyTorch DistributedDataParallel's semantics): its
/// <see cref="Collectives"/>. What the run does with them (sync-bn, the batch per worker) is in its TrainConfig.
/// </summary>
public sealed record DataParallel(ICollectives Collectives)
{
    public int Rank => Collectives.Rank;
    public int WorldSize => Collectives.WorldSize;
    /// <summary>Rank 0 writes the run folder (config, checkpoints, metrics, pictures) and validates.</summary>
    public bool IsLeader => Collectives.Rank == 0;
}
