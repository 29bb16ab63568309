using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// The gradient average of a data-parallel step started during backward, bucket by bucket, as
/// DistributedDataParallel does: a hook on every parameter reports its gradient complete (<see cref="OverlapShim"/>),
/// <see cref="BucketSchedule"/> says which buckets of the flat gradient buffers may start, and each starts an NCCL
/// all-reduce (average) on a communication stream that first waits for the gradient work queued so far. So the
/// exchange of the last layers' gradients runs while backward still computes the first layers'. <see cref="Finish"/>
/// after backward starts the buckets still waiting (parameters that got no gradient) and makes the step's stream wait
/// for all of them, so the optimizer reads averaged gradients. Parameters that got no gradient in a step count as
/// complete from the next one on (<see cref="BucketSchedule"/>), so that they hold no bucket back. Every call is a
/// stream operation, so a step recorded in a CUDA graph records the overlap too (the hooks fire while the capture runs
/// backward).
/// </summary>
public sealed class OverlappedReduction : IDisposable
{
    readonly BucketSchedule schedule;
    readonly (IntPtr Data, long Count)[] ranges;
    readonly OverlapShim.ReadyFn callback;   // referenced here: native code calls it until Dispose
    readonly object gate = new();
    IntPtr handle;
    bool armed;
    Exception? failure;

    public GradientBucketPlan Plan { get; }

    /// <param name="order">The model's parameter names in forward order (model.named_parameters()); without it, the optimizer's order.</param>
    public OverlappedReduction(NcclCollectives nccl, FlatAdam optimizer, IReadOnlyList<string>? order = null)
    {
        var position = order?.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => x.i);
        int running = 0;
        var groups = optimizer.Groups.Select(g => ((IReadOnlyList<GradientBucketPlan.Member>)g.Members
            .Select(m => new GradientBucketPlan.Member(m.Offset, m.Parameter.numel(),
                position is not null && position.TryGetValue(m.Name, out var at) ? at : running++)).ToList(), g.Grads.numel())).ToList();
        Plan = new GradientBucketPlan(groups);
        schedule = new BucketSchedule(Plan);
        ranges = Plan.Buckets.Select(b => (TensorPointer.Of(optimizer.Groups[b.Group].Grads) + (nint)(b.Start * sizeof(float)), b.Length)).ToArray();
        callback = OnReady;
        var parameters = optimizer.Groups.SelectMany(g => g.Members.Select(m => m.Parameter.Handle)).ToArray();
        handle = OverlapShim.Create(optimizer.Groups[0].Grads.device_index, Nccl.AllReduceAddress, nccl.Communicator, callback, parameters, ranges.Length);
    }

    /// <summary>Before backward: the hooks start buckets from now on.</summary>
    public void Begin()
    {
        lock (gate)
        {
            schedule.Reset();
            failure = null;
            armed = true;
        }
    }

    /// <summary>On autograd's thread, on the stream autograd accumulated the gradient on.</summary>
    void OnReady(int parameter)
    {
        // An exception must not cross into native code: it is kept and thrown by Finish.
        try
        {
            lock (gate)
            {
                if (!armed || failure is not null) return;
                foreach (var b in schedule.Ready(parameter)) Launch(b);
            }
        }
        catch (Exception e) { failure ??= e; }
    }

    void Launch(int bucket) => OverlapShim.Launch(handle, bucket, ranges[bucket].Data, ranges[bucket].Count);

    /// <summary>After backward, on the step's stream: starts what backward did not, then waits (on the device) for all.</summary>
    public void Finish()
    {
        lock (gate)
        {
            if (!armed) schedule.Reset();   // no Begin: every bucket starts now
            armed = false;
            if (failure is not null) throw new InvalidOperationException($"the overlapped gradient all-reduce failed: {failure.Message}", failure);
            foreach (var b in schedule.Flush()) Launch(b);
            OverlapShim.Join(handle);
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            armed = false;
            if (handle != IntPtr.Zero) { OverlapShim.Destroy(handle); handle = IntPtr.Zero; }
        }
        GC.KeepAlive(callback);
    }
}
