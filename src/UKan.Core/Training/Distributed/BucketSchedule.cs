namespace UKan.Training.Distributed;

/// <summary>
/// Which buckets of a <see cref="GradientBucketPlan"/> may start their all-reduce, as backward reports parameters
/// whose gradients are complete: a bucket starts once all its parameters are, and only after every bucket before it
/// in the plan's order (a bucket complete early waits for its predecessors), so that every worker issues its
/// collectives in the same order, as DistributedDataParallel's reducer does. <see cref="Flush"/> releases the rest
/// after backward, for parameters that got no gradient in this step. <see cref="Reset"/> before each backward pass.
/// Not thread-safe: the caller serialises (autograd reports from its own thread).
/// </summary>
public sealed class BucketSchedule
{
    readonly GradientBucketPlan plan;
    readonly int[] missing;
    readonly bool[] ready;
    int next;

    public BucketSchedule(GradientBucketPlan plan)
    {
        this.plan = plan;
        missing = new int[plan.Buckets.Count];
        ready = new bool[plan.BucketOf.Count];
        Reset();
    }

    /// <summary>Buckets started during backward (by <see cref="Ready"/>) since the last reset.</summary>
    public int StartedEarly { get; private set; }

    /// <summary>A new step: no parameter ready, no bucket started.</summary>
    public void Reset()
    {
        for (int b = 0; b < missing.Length; b++) missing[b] = plan.Buckets[b].Parameters.Length;
        Array.Clear(ready);
        next = 0;
        StartedEarly = 0;
    }

    /// <summary>
    /// Parameter <paramref name="parameter"/>'s gradient is complete; returns the buckets that may start now, in order
    /// (often none). A second report of the same parameter in one step changes nothing.
    /// </summary>
    public IReadOnlyList<int> Ready(int parameter)
    {
        if (ready[parameter]) return [];
        ready[parameter] = true;
        missing[plan.BucketOf[parameter]]--;
        var start = new List<int>();
        while (next < missing.Length && missing[next] == 0) start.Add(next++);
        StartedEarly += start.Count;
        return start;
    }

    /// <summary>Every bucket not started yet, in order (after backward: their missing parameters got no gradient).</summary>
    public IReadOnlyList<int> Flush()
    {
        var rest = Enumerable.Range(next, missing.Length - next).ToList();
        next = missing.Length;
        return rest;
    }
}
