namespace UKan.Training.Distributed;

/// <summary>
/// How the gradients are cut into buckets for an all-reduce that overlaps backward (DistributedDataParallel's
/// bucketing, torch/nn/parallel/distributed.py with bucket_cap_mb = 25): each group's flat buffer is cut, from its
/// end, into contiguous ranges of whole parameters of at most <see cref="TensorBuckets.DefaultCapBytes"/> (a larger
/// parameter is a bucket of its own). Backward produces gradients roughly in reverse forward order, so the buckets
/// are numbered by when they are expected to be complete: by the earliest (in model order) of their parameters,
/// latest first. Every worker builds the same plan from the same model, which is what lets them launch the
/// buckets' all-reduces in one order (NCCL requires it). Pure bookkeeping: testable without a GPU.
/// </summary>
public sealed class GradientBucketPlan
{
    /// <summary>One parameter of a group: its offset and element count in the group's buffer, and its position in the model's parameter order.</summary>
    public readonly record struct Member(long Offset, long Count, int Order);

    /// <summary>The buckets, in launch order.</summary>
    public IReadOnlyList<GradientBucket> Buckets { get; }
    /// <summary>The bucket of each parameter; parameters are numbered group after group, in member order.</summary>
    public IReadOnlyList<int> BucketOf { get; }

    /// <param name="groups">Each group's members (in buffer order) and the length of its buffer in elements.</param>
    /// <param name="elementBytes">Bytes per element (4 for float32).</param>
    public GradientBucketPlan(IReadOnlyList<(IReadOnlyList<Member> Members, long Length)> groups, long capBytes = TensorBuckets.DefaultCapBytes,
        int elementBytes = 4)
    {
        var buckets = new List<(GradientBucket Bucket, int Earliest)>();
        int first = 0;   // the number of the group's first parameter
        for (int g = 0; g < groups.Count; g++)
        {
            var (members, length) = groups[g];
            long end = length;   // a bucket runs to the next bucket's start (or the buffer's end): alignment gaps included
            var current = new List<int>();
            long bytes = 0;
            for (int i = members.Count - 1; i >= 0; i--)
            {
                long size = members[i].Count * elementBytes;
                if (current.Count > 0 && bytes + size > capBytes)
                {
                    Add(g, members, first, current, ref end, buckets);
                    bytes = 0;
                }
                current.Add(i);
                bytes += size;
            }
            if (current.Count > 0) Add(g, members, first, current, ref end, buckets);
            first += groups[g].Members.Count;
        }
        var ordered = buckets.Select((b, i) => (b.Bucket, b.Earliest, Built: i))
            .OrderByDescending(b => b.Earliest).ThenBy(b => b.Built).Select(b => b.Bucket).ToList();
        var bucketOf = new int[first];
        for (int b = 0; b < ordered.Count; b++)
            foreach (var p in ordered[b].Parameters) bucketOf[p] = b;
        Buckets = ordered;
        BucketOf = bucketOf;
    }

    /// <summary>Closes the bucket of members <paramref name="current"/> (collected from the end) of group <paramref name="g"/>.</summary>
    static void Add(int g, IReadOnlyList<Member> members, int first, List<int> current, ref long end, List<(GradientBucket, int)> buckets)
    {
        long start = members[current[^1]].Offset;
        var parameters = current.Select(i => first + i).Reverse().ToArray();
        buckets.Add((new GradientBucket(g, start, end - start, parameters), current.Min(i => members[i].Order)));
        end = start;
        current.Clear();
    }
}
