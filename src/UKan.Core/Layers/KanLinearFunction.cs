using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// y = features(x) · Wᵀ with a memory-lean backward: only x and the fused weight W are kept; the features are
/// recomputed in backward (one fused kernel on CUDA) instead of autograd keeping the basis and every intermediate of
/// its evaluation. Gradients: dW = dyᵀ·features, dfeatures = dy·W, dx from dfeatures (<see cref="KanFeatures"/>).
/// </summary>
/// <remarks>
/// TorchSharp runs backward on autograd's thread, where no dispose scope is active: temporaries are disposed by a
/// scope, and the returned gradients by <see cref="HandedBackGradients"/> once libtorch has taken them.
/// </remarks>
public sealed class KanLinearFunction : torch.autograd.SingleTensorFunction<KanLinearFunction>
{
    public override string Name => nameof(KanLinearFunction);

    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        HandedBackGradients.Release();
        var x = (Tensor)vars[0];
        var w = (Tensor)vars[1];
        var knots = (BSplineBasis.UniformKnots)vars[2];
        ctx.save_for_backward([x, w]);
        ctx.save_data("knots", knots);
        OutputTemplates.Forward(ctx);
        using var features = KanFeatures.Forward(x, knots);
        using var wt = w.t();
        return features.matmul(wt);
    }

    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        using var incoming = HandedBackGradients.Backward(gradOutput);
        if (gradOutput is null || gradOutput.IsInvalid) return [null!, null!, null!];
        Tensor gradX, gradW;
        using (var scope = NewDisposeScope())
        {
            var saved = ctx.get_saved_variables();
            var (x, w) = (saved[0], saved[1]);
            var knots = (BSplineBasis.UniformKnots)ctx.get_data("knots");
            var features = KanFeatures.Forward(x, knots);
            // Under bf16 autocast the forward product ran in bf16, so its gradient arrives in bf16; backward runs
            // outside autocast, in the dtype of x and W.
            if (gradOutput.dtype != x.dtype) gradOutput = gradOutput.to(x.dtype);
            gradW = gradOutput.t().matmul(features).DetachFromDisposeScope();
            var gradFeatures = gradOutput.matmul(w);
            gradX = KanFeatures.BackwardInput(x, gradFeatures, knots).DetachFromDisposeScope();
        }
        HandedBackGradients.Keep(gradX);
        HandedBackGradients.Keep(gradW);
        return [gradX, gradW, null!];   // one entry per forward argument; the knots get none
    }
}
