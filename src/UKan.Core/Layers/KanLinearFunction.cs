using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// y = features(x) · Wᵀ with a lean backward: x, the fused weight W and the features (rows × 9·in, the product's
/// operand) are kept, not the basis and every intermediate of its evaluation that autograd would keep. Gradients:
/// dW = dyᵀ·features, dfeatures = dy·W, dx from dfeatures (<see cref="KanFeatures"/>; on CUDA the last two in one kernel,
/// <see cref="KanInputGradient"/>); the products run as measured fastest for their shape (<see cref="SplitReduction"/>). With
/// <see cref="KeepFeaturesVariable"/>=off the features are not kept but computed again in backward (one fused kernel on
/// CUDA): less memory (the U-KAN paper model at 256², batch 8: about 200 MB), one kernel more per layer and step.
/// </summary>
/// <remarks>
/// TorchSharp runs backward on autograd's thread, where no dispose scope is active: temporaries are disposed by a
/// scope, and the returned gradients by <see cref="HandedBackGradients"/> once libtorch has taken them.
/// </remarks>
public sealed class KanLinearFunction : torch.autograd.SingleTensorFunction<KanLinearFunction>
{
    public override string Name => nameof(KanLinearFunction);

    /// <summary>Set to <c>off</c> to recompute the features in backward instead of keeping them from forward.</summary>
    public const string KeepFeaturesVariable = "UKAN_KAN_KEEP_FEATURES";

    static readonly FlowOverride forced = new();

    static bool KeepsFeatures => forced.Value ?? !EnvironmentSwitch.IsOffIn(KeepFeaturesVariable);

    /// <summary><paramref name="body"/>'s result with the calling flow keeping the features or not, whatever the environment says.</summary>
    internal static T With<T>(bool keepFeatures, Func<T> body) => forced.With(keepFeatures, body);

    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        HandedBackGradients.Release();
        var x = (Tensor)vars[0];
        var w = (Tensor)vars[1];
        var knots = (BSplineBasis.UniformKnots)vars[2];
        // Under bf16 autocast the product runs in bf16 (as autocast runs nn.Linear's): the features are stored in bf16
        // by the kernel that computes them (in float), where autocast would have cast a float32 copy.
        var product = Autocast.Bf16 && x.device_type == DeviceType.CUDA ? ScalarType.BFloat16 : w.dtype;
        ctx.save_data("knots", knots);
        ctx.save_data("product", product);
        OutputTemplates.Forward(ctx);
        // TorchSharp takes the saved references after forward returns: a kept features tensor's handle is disposed by
        // the Drop that follows apply (KanLinear.forward), autograd's reference then holds its memory until backward.
        var features = KanFeatures.Forward(x, knots, product);
        bool keep = KeepsFeatures;
        ctx.save_for_backward(keep ? [x, w, OutputTemplates.SavedIntermediate(features)] : [x, w]);
        using var wp = w.to(product);
        using var wt = wp.t();
        var y = SplitReduction.MatMul(features, wt);
        if (!keep) features.Dispose();
        return y;
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
            var product = (ScalarType)ctx.get_data("product");
            // Both backward products in the forward product's precision (bf16 under autocast, as autograd runs the
            // backward of an autocast matmul); W's gradient in W's dtype, x's in x's (the feature kernel's store).
            var features = saved.Count > 2 ? saved[2] : KanFeatures.Forward(x, knots, product);
            if (gradOutput.dtype != product) gradOutput = gradOutput.to(product);
            gradW = SplitReduction.MatMul(gradOutput.t(), features).to(w.dtype).DetachFromDisposeScope();
            gradX = KanInputGradient.Backward(gradOutput, w.to(product), x, knots).DetachFromDisposeScope();
        }
        HandedBackGradients.Keep(gradX);
        HandedBackGradients.Keep(gradW);
        return [gradX, gradW, null!];   // one entry per forward argument; the knots get none
    }
}
