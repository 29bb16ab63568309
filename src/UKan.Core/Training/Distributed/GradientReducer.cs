using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// The collective parts of a data-parallel training step: the start-up broadcast that gives every worker rank 0's
/// weights and buffers, and after each backward pass the average of the gradients over the workers (DDP's
/// all-reduce; with the loss a per-batch mean, the average of the workers' gradients is the gradient of the global
/// batch). FlatAdam keeps each parameter group's gradients in one flat buffer, so the all-reduce is one call per
/// group, with no packing.
/// </summary>
/// <remarks>
/// The all-reduce runs after backward, not bucket by bucket during it: TorchSharp 0.107 exposes no hook that fires
/// when a parameter's gradient has been accumulated (PyTorch's register_post_accumulate_grad_hook), which DDP uses to
/// start a bucket's all-reduce while backward continues. On the GPU the calls are queued on the step's stream, so the
/// host is not blocked; the time they take is on the step's critical path.
/// </remarks>
public sealed class GradientReducer
{
    readonly ICollectives collectives;
    readonly FlatAdam optimizer;

    public GradientReducer(ICollectives collectives, FlatAdam optimizer) => (this.collectives, this.optimizer) = (collectives, optimizer);

    /// <summary>Averages every gradient over the workers, in place.</summary>
    public void AverageGradients()
    {
        if (collectives.WorldSize == 1) return;
        foreach (var g in optimizer.Groups) collectives.AllReduce(g.Grads, ReduceOp.Average);
    }

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
