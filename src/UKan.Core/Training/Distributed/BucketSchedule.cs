namespace UKan.Training.Distributed;

/// <summary>
/// Which buckets of a <see cref="GradientBucketPlan"/> may start their all-reduce, as backward reports parameters
/// whose gradients are complete: a bucket starts once all its parameters are, and only after every bucket before it
/// in the plan's order (a bucket complete early waits for its predecessors), so that every worker issues its
/// collectives in the same order, as DistributedDataParallel's reducer does. <see cref="Flush"/> releases the rest
/// after backward, for parameters that got no gradient in this step. <see cref="Reset"/> before each backward pass.
/// Not thread-safe: the caller serialises (autograd reports from its own thread).
/// </summary>
/// <remarks>
/// A parameter that gets no gradient in a step would hold its bucket, and every bucket after it, until the flush: no
/// overlap at all when it sits in the first bucket. Training leaves some parameters out on purpose, every step (the
/// convolution biases that a batch norm cancels: UKan.Layers.ConvBatchNorm), so the parameters not reported in a step
/// count as complete from the start of the next one, as DistributedDataParallel does with <c>static_graph</c>; one that
/// is reported after all once its bucket has started is an error (its gradient missed the average).
/// </remarks>
public sealed class BucketSchedule
{
    readonly GradientBucketPlan plan;
    readonly int[] missing;
    readonly bool[] ready;
    /// <summary>Reported in this step.</summary>
    readonly bool[] reported;
    /// <summary>Not reported in the last step that had reports: counted complete from the start.</summary>
    readonly bool[] absent;
    int next;

    public BucketSchedule(GradientBucketPlan plan)
    {
        this.plan = plan;
        missing = new int[plan.Buckets.Count];
        ready = new bool[plan.BucketOf.Count];
        reported = new bool[plan.BucketOf.Count];
        absent = new bool[plan.BucketOf.Count];
        Reset();
    }

    /// <summary>Buckets started during backward (by <see cref="Ready"/>) since the last reset.</summary>
    public int StartedEarly { get; private set; }

    /// <summary>A new step: no bucket started, no parameter ready but those that got no gradient in the last step.</summary>
    public void Reset()
    {
        for (int b = 0; b < missing.Length; b++) missing[b] = plan.Buckets[b].Parameters.Length;
        Array.Clear(ready);
        Array.Clear(reported);
        for (int p = 0; p < absent.Length; p++)
            if (absent[p])
            {
                ready[p] = true;
                missing[plan.BucketOf[p]]--;
            }
        next = 0;
        StartedEarly = 0;
    }

    /// <summary>
    /// Parameter <paramref name="parameter"/>'s gradient is complete; returns the buckets that may start now, in order
    /// (often none). A second report of the same parameter in one step changes nothing.
    /// </summary>
    public IReadOnlyList<int> Ready(int parameter)
    {
        reported[parameter] = true;
        if (absent[parameter] && plan.BucketOf[parameter] < next)
            throw new InvalidOperationException(
                $"parameter {parameter} got a gradient after its bucket's all-reduce had started (it had none in the step before)");
        if (ready[parameter]) return [];
        ready[parameter] = true;
        missing[plan.BucketOf[parameter]]--;
        var start = new List<int>();
        while (next < missing.Length && missing[next] == 0) start.Add(next++);
        StartedEarly += start.Count;
        return start;
    }

    /// <summary>
    /// Every bucket not started yet, in order (after backward: their missing parameters got no gradient). The parameters
    /// not reported in this step, if any was, are counted complete from the start of the next (<see cref="Reset"/>).
    /// </summary>
    public IReadOnlyList<int> Flush()
    {
        if (reported.Any(r => r))
            for (int p = 0; p < absent.Length; p++) absent[p] = !reported[p];
        var rest = Enumerable.Range(next, missing.Length - next).ToList();
        next = missing.Length;
        return rest;
    }
}
