namespace UKan.Training.Distributed;

/// <summary>
/// A contiguous range of one parameter group's flat gradient buffer that is all-reduced as one call:
/// <see cref="Length"/> elements from <see cref="Start"/> of group <see cref="Group"/>, holding the gradients of
/// <see cref="Parameters"/> (indices as numbered by <see cref="GradientBucketPlan"/>) and the alignment gaps between them.
/// </summary>
public sealed record GradientBucket(int Group, long Start, long Length, int[] Parameters);
