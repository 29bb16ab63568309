using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// The collective parts of a data-parallel training step: the start-up broadcast that gives every worker rank 0's
/// weights and buffers, and the average of the gradients over the workers in every step (DDP's all-reduce; with the
/// loss a per-batch mean, the average of the workers' gradients is the gradient of the global batch).
/// </summary>
/// <remarks>
/// <para>On GPUs (NCCL) the average overlaps backward by default (<see cref="OverlappedReduction"/>: buckets of about
/// 25 MiB start as soon as their gradients are complete, on a communication stream, as DistributedDataParallel
/// does); the step calls <see cref="BeginBackward"/> before backward and <see cref="AverageGradients"/> after it.</para>
/// <para>Otherwise, and with <c>UKAN_DDP_OVERLAP=off</c>, the average runs after backward: one all-reduce per
/// parameter group (FlatAdam keeps each group's gradients in one flat buffer, so nothing is packed), queued on the
/// step's stream, with its whole time on the step's critical path. That is the path of CPU workers (TCP), and the
/// one taken when the overlap's native part cannot be built or any worker lacks it (all workers take one path: NCCL
/// needs the same calls everywhere).</para>
/// </remarks>
public sealed class GradientReducer : IDisposable
{
    /// <summary>off (or 0): the all-reduce runs after backward, as on CPU workers (to compare the two).</summary>
    public const string OverlapVariable = "UKAN_DDP_OVERLAP";

    readonly ICollectives collectives;
    readonly FlatAdam optimizer;
    readonly OverlappedReduction? overlap;

    /// <summary>How the gradients are averaged, in one line (for the run's log).</summary>
    public string Describe { get; }
    public bool Overlapped => overlap is not null;

    /// <param name="model">Gives the forward order of the parameters, which orders the overlap's buckets.</param>
    public GradientReducer(ICollectives collectives, FlatAdam optimizer, nn.Module? model = null)
    {
        (this.collectives, this.optimizer) = (collectives, optimizer);
        Describe = "gradients averaged after backward";
        if (collectives.WorldSize == 1 || collectives is not NcclCollectives nccl) return;
        if (OverlapDisabled(Environment.GetEnvironmentVariable(OverlapVariable)))
        {
            Describe += $" ({OverlapVariable}={Environment.GetEnvironmentVariable(OverlapVariable)})";
            return;
        }
        string? problem = null;
        try { overlap = new OverlappedReduction(nccl, optimizer, model?.named_parameters().Select(p => p.name).ToList()); }
        catch (Exception e) when (e is InvalidOperationException or DllNotFoundException or EntryPointNotFoundException)
        {
            problem = OverlapShim.Problem ?? e.Message.Split('\n')[0];
        }
        // Every worker must take the same path: count the workers that could hook their parameters.
        using (var able = tensor(new[] { overlap is null ? 0f : 1f }, device: optimizer.Groups[0].Grads.device))
        {
            collectives.AllReduce(able, ReduceOp.Sum);
            if (able.item<float>() < collectives.WorldSize && overlap is not null)
            {
                overlap.Dispose();
                overlap = null;
                problem = "not every worker could hook its parameters";
            }
        }
        Describe = overlap is null
            ? $"{Describe} (the overlap with backward is unavailable: {problem})"
            : $"gradients averaged during backward, in {overlap.Plan.Buckets.Count} buckets of at most {TensorBuckets.DefaultCapBytes >> 20} MiB";
    }

    /// <summary>Whether <see cref="OverlapVariable"/>'s value asks for the all-reduce after backward.</summary>
    public static bool OverlapDisabled(string? value) => EnvironmentSwitch.IsOff(value);

    /// <summary>Call just before backward: with the overlap, gradients are averaged as backward completes them.</summary>
    public void BeginBackward() => overlap?.Begin();

    /// <summary>Averages every gradient over the workers, in place (with the overlap: finishes what backward started).</summary>
    public void AverageGradients()
    {
        if (collectives.WorldSize == 1) return;
        if (overlap is not null) { overlap.Finish(); return; }
        foreach (var g in optimizer.Groups) collectives.AllReduce(g.Grads, ReduceOp.Average);
        optimizer.GradsWrittenElsewhere();   // another worker's gradient may now sit in a slice this one left zero
    }

    public void Dispose() => overlap?.Dispose();

    /// <summary>Gives every worker rank 0's parameters and floating-point buffers (batch norm running statistics).</summary>
    public static void BroadcastModel(ICollectives collectives, FlatAdam optimizer, nn.Module model)
    {
        if (collectives.WorldSize == 1) return;
        using var _ = no_grad();
        foreach (var g in optimizer.Groups) collectives.Broadcast(g.Params);
        var buffers = model.named_buffers().Select(b => b.buffer).Where(b => b.dtype == ScalarType.Float32).ToList();
        if (buffers.Count > 0) new TensorBuckets(buffers).Apply(flat => collectives.Broadcast(flat));
    }
}
