using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// A custom autograd node y = f(x; w, b) of a layer with a weight and a bias, computed by <typeparamref name="TKernels"/>
/// (the fused CUDA kernels or their torch formulation): the batch norm + ReLU and the LayerNorm nodes (a per-channel
/// weight and bias), and the upsampling with the segmentation head (<see cref="UpsampleReluHead"/>). <c>apply(x, w, b, kernels, …)</c>: the node's own arguments follow the kernels. It saves x, w and
/// what <see cref="Forward"/> adds (the statistics), frees TorchSharp's output template (<see cref="OutputTemplates"/>)
/// and the gradient handed in (<see cref="HandedBackGradients"/>), and hands back only the gradients of the inputs that
/// asked for one when the node ran.
/// </summary>
public abstract class AffineNormFunction<TSelf, TKernels> : autograd.SingleTensorFunction<TSelf>
    where TSelf : AffineNormFunction<TSelf, TKernels>, new()
{
    /// <summary>y and the tensors backward needs besides x and w, from the node's own arguments <paramref name="rest"/>.</summary>
    protected abstract (Tensor Y, Tensor[] Saved) Forward(TKernels kernels, Tensor x, Tensor weight, Tensor bias, object[] rest);

    /// <summary>
    /// dL/dx, dL/dw and dL/db from dL/dy = <paramref name="grad"/>, x, w and what <see cref="Forward"/> saved; the
    /// gradients of the node's own tensor arguments (those after the kernels) go into <paramref name="own"/>, by their
    /// place among those arguments (it comes filled with nulls; only those that asked for a gradient are handed on).
    /// </summary>
    protected abstract (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) Backward(TKernels kernels, Tensor x, Tensor weight,
        IList<Tensor> saved, Tensor grad, Tensor?[] own);

    public sealed override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        HandedBackGradients.Release();
        var (x, weight, bias) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
        var kernels = (TKernels)vars[3];
        var (y, saved) = Forward(kernels, x, weight, bias, vars[4..]);
        ctx.save_for_backward([x, weight, .. saved]);
        ctx.save_data("kernels", kernels!);
        ctx.save_data("grads", (x.requires_grad, weight.requires_grad, bias.requires_grad));
        ctx.save_data("inputs", vars.Length);
        ctx.save_data("own", vars[4..].Select(v => v is Tensor t && t.requires_grad).ToArray());
        OutputTemplates.Forward(ctx);
        return y;
    }

    public sealed override List<Tensor> backward(autograd.AutogradContext ctx, Tensor g)
    {
        using var incoming = HandedBackGradients.Backward(g);
        var gradients = Enumerable.Repeat<Tensor>(null!, (int)ctx.get_data("inputs")).ToList();   // one per apply argument
        if (g is null || g.IsInvalid) return gradients;
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var all = ctx.get_saved_variables();
        var (needX, needW, needB) = ((bool, bool, bool))ctx.get_data("grads");
        var needOwn = (bool[])ctx.get_data("own");
        var own = new Tensor?[needOwn.Length];
        var (dx, dw, db) = Backward((TKernels)ctx.get_data("kernels"), all[0], all[1], all.Skip(2).ToList(), g, own);
        (gradients[0], gradients[1], gradients[2]) = (needX ? dx : null!, needW ? dw! : null!, needB ? db! : null!);
        for (int i = 0; i < own.Length; i++)
            if (needOwn[i]) gradients[4 + i] = own[i]!;
        return HandedBackGradients.KeepAll(gradients);
    }
}
