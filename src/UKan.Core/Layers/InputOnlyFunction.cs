using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// A custom autograd node y = f(x) of one input whose backward needs only x (it recomputes what else it needs), computed
/// by <typeparamref name="TKernels"/> (the fused CUDA kernels or their torch formulation) handed to
/// <c>apply(x, kernels)</c>: the fused relu(×2 upsampling) and relu(2 × 2 max-pooling) nodes. It saves x alone,
/// frees TorchSharp's output template (<see cref="OutputTemplates"/>) and the gradient handed in
/// (<see cref="HandedBackGradients"/>), and keeps dL/dx alive until libtorch has taken it.
/// </summary>
public abstract class InputOnlyFunction<TSelf, TKernels> : autograd.SingleTensorFunction<TSelf>
    where TSelf : InputOnlyFunction<TSelf, TKernels>, new()
{
    /// <summary>y = f(x) by <paramref name="kernels"/>.</summary>
    protected abstract Tensor Forward(TKernels kernels, Tensor x);

    /// <summary>dL/dx from x and dL/dy = <paramref name="grad"/> by <paramref name="kernels"/>.</summary>
    protected abstract Tensor Backward(TKernels kernels, Tensor x, Tensor grad);

    public sealed override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        HandedBackGradients.Release();
        var x = (Tensor)vars[0];
        var kernels = (TKernels)vars[1];
        var y = Forward(kernels, x);
        ctx.save_for_backward([x]);
        ctx.save_data("kernels", kernels!);
        OutputTemplates.Forward(ctx);
        return y;
    }

    public sealed override List<Tensor> backward(autograd.AutogradContext ctx, Tensor g)
    {
        using var incoming = HandedBackGradients.Backward(g);
        if (g is null || g.IsInvalid) return [null!, null!];
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = ctx.get_saved_variables()[0];
        var gx = Backward((TKernels)ctx.get_data("kernels"), x, g);
        return [HandedBackGradients.Keep(gx.DetachFromDisposeScope()), null!];
    }
}
