using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// KANLinear's fused weight: the base weight W_b (out, in) beside the scaled spline coefficients W_s·s (out, in, K),
/// interleaved per input as (out, in·(1+K)) so that one product with the features [b(x_i), B_0(x_i), ...,
/// B_{K-1}(x_i)] gives the layer's output (efficient-kan's two products, as in CUHK-AIM-Group/U-KAN @ b20bf63,
/// <c>Seg_UKAN/kan.py</c>, <c>KANLinear.forward</c>, summed in one). It is rebuilt every step from the parameters.
/// </summary>
/// <remarks>
/// In torch that is a broadcast multiply and a concatenation forward, and slice copies, a multiply and a reduction
/// backward: about six launches per KAN layer and step (the profile in docs/gpu.md counts them among the element-wise,
/// copy and reduction kernels). On CUDA it is one kernel each way (Native/Kernels/kan_weight.cu): under autograd an
/// autograd node, without it the kernel alone. Elsewhere, or with <see cref="EnvironmentVariable"/>=off or the fused
/// kernels disabled, the torch formulation runs through autograd as before.
/// </remarks>
public static class KanWeight
{
    /// <summary>Set to <c>off</c> to assemble the weight with torch operations on CUDA too (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_KAN_WEIGHT";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>[W_b, W_s·s] interleaved per input: (out, in·(1+K)); <paramref name="scaler"/> null means s = 1.</summary>
    public static Tensor Fuse(Tensor baseWeight, Tensor splineWeight, Tensor? scaler)
    {
        if (KernelsFor(baseWeight, splineWeight, scaler) is not { } kernels)
            return Torch.Instance.KanWeightForward(baseWeight, splineWeight, scaler);
        bool tracked = is_grad_enabled() && (baseWeight.requires_grad || splineWeight.requires_grad || scaler?.requires_grad == true);
        return tracked ? Apply(baseWeight, splineWeight, scaler, kernels) : kernels.KanWeightForward(baseWeight, splineWeight, scaler);
    }

    /// <summary>The weight as one autograd node computed by <paramref name="kernels"/> (CUDA, or <see cref="Torch.Instance"/> anywhere).</summary>
    public static Tensor Apply(Tensor baseWeight, Tensor splineWeight, Tensor? scaler, IKanWeightKernels kernels) =>
        OutputTemplates.Drop(Function.apply(baseWeight, splineWeight, scaler!, kernels));

    /// <summary>
    /// The CUDA kernels where they apply: float32 contiguous CUDA tensors, fused kernels allowed and built, not turned
    /// off (<see cref="EnvironmentVariable"/>); else null.
    /// </summary>
    public static IKanWeightKernels? KernelsFor(Tensor baseWeight, Tensor splineWeight, Tensor? scaler)
        => Switch.Applies(splineWeight) && Takes(baseWeight, splineWeight, scaler) ? FusedSwitch.Kernels(splineWeight) : null;

    /// <summary>Whether the kernels take these tensors: float32, contiguous, W_b (out, in), W_s (out, in, K), s (out, in).</summary>
    public static bool Takes(Tensor baseWeight, Tensor splineWeight, Tensor? scaler) =>
        splineWeight.dim() == 3 && baseWeight.dim() == 2
        && baseWeight.shape[0] == splineWeight.shape[0] && baseWeight.shape[1] == splineWeight.shape[1]
        && (scaler is null || scaler.shape.SequenceEqual(baseWeight.shape))
        && new[] { baseWeight, splineWeight, scaler }.All(t => t is null
            || (t.dtype == ScalarType.Float32 && t.is_contiguous() && t.device_type == splineWeight.device_type && t.device_index == splineWeight.device_index));

    /// <summary><paramref name="body"/>'s result with the calling flow taking the kernels or not, whatever the environment says.</summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "KanWeight";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            HandedBackGradients.Release();
            var (baseWeight, splineWeight, scaler) = ((Tensor)vars[0], (Tensor)vars[1], vars[2] as Tensor);
            var kernels = (IKanWeightKernels)vars[3];
            ctx.save_for_backward(scaler is null ? [splineWeight] : [splineWeight, scaler]);
            ctx.save_data("kernels", kernels);
            ctx.save_data("grads", (baseWeight.requires_grad, splineWeight.requires_grad, scaler?.requires_grad == true));
            OutputTemplates.Forward(ctx);
            return kernels.KanWeightForward(baseWeight, splineWeight, scaler);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor g)
        {
            using var incoming = HandedBackGradients.Backward(g);
            if (g is null || g.IsInvalid) return [null!, null!, null!, null!];
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var saved = ctx.get_saved_variables();
            var (splineWeight, scaler) = (saved[0], saved.Count > 1 ? saved[1] : null);
            var kernels = (IKanWeightKernels)ctx.get_data("kernels");
            var (needBase, needSpline, needScaler) = ((bool, bool, bool))ctx.get_data("grads");
            var (gb, gs, gsc) = kernels.KanWeightBackward(g.contiguous(), splineWeight, scaler, needBase, needSpline, needScaler);
            return HandedBackGradients.KeepAll([gb!, gs!, gsc!, null!]);
        }
    }

    /// <summary>The torch formulation (any device): what runs where the kernels do not, and their reference.</summary>
    public sealed class Torch : IKanWeightKernels
    {
        public static readonly Torch Instance = new();

        public Tensor KanWeightForward(Tensor baseWeight, Tensor splineWeight, Tensor? scaler)
        {
            using var scope = NewDisposeScope();
            var scaled = scaler is null ? splineWeight.alias() : splineWeight * scaler.unsqueeze(-1);
            return cat([baseWeight.unsqueeze(-1), scaled], -1).view(baseWeight.shape[0], -1).MoveToOuterDisposeScope();
        }

        public (Tensor? GradBase, Tensor? GradSpline, Tensor? GradScaler) KanWeightBackward(Tensor grad, Tensor splineWeight, Tensor? scaler,
            bool needBase, bool needSpline, bool needScaler)
        {
            using var scope = NewDisposeScope();
            long o = splineWeight.shape[0], i = splineWeight.shape[1], k = splineWeight.shape[2];
            var g = grad.reshape(o, i, k + 1);
            var gSpline = g.narrow(-1, 1, k);
            var gb = needBase ? g.select(-1, 0).contiguous() : null;
            var gs = !needSpline ? null : scaler is null ? gSpline.contiguous() : gSpline * scaler.unsqueeze(-1);
            var gsc = needScaler && scaler is not null ? (gSpline * splineWeight).sum(-1) : null;
            return (gb?.MoveToOuterDisposeScope(), gs?.MoveToOuterDisposeScope(), gsc?.MoveToOuterDisposeScope());
        }
    }
}
