using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// A differentiable sum over the workers (torch.distributed.nn.functional.all_reduce): forward y = Σ_r x_r on every
/// worker; since every worker's loss depends on y, the gradient of x_q is the sum over r of the workers' gradients of
/// y, so backward is an all-reduce sum too. Used by <see cref="SyncBatchNorm"/> for the batch statistics.
/// </summary>
public sealed class AllReduceFunction : autograd.SingleTensorFunction<AllReduceFunction>
{
    public override string Name => nameof(AllReduceFunction);

    public static Tensor Sum(Tensor x, ICollectives collectives) => apply(x, collectives);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        HandedBackGradients.Release();
        var collectives = (ICollectives)vars[1];
        ctx.save_data("collectives", collectives);
        // Zeros are materialised for a missing gradient (TorchSharp's default, so its output templates stay): every
        // worker must join the backward all-reduce.
        var y = ((Tensor)vars[0]).detach().clone();
        collectives.AllReduce(y, ReduceOp.Sum);
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        using var incoming = HandedBackGradients.Backward(gradOutput);
        var collectives = (ICollectives)ctx.get_data("collectives");
        Tensor g;
        using (var scope = NewDisposeScope())
            g = gradOutput.contiguous().clone().DetachFromDisposeScope();
        collectives.AllReduce(g, ReduceOp.Sum);
        HandedBackGradients.Keep(g);
        return [g, null!];
    }
}
