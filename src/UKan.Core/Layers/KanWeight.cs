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
/// copy and reduction kernels). On CUDA it is one kernel each way (Native/Kernels/kan_weight.cu) for any number of
/// layers (<see cref="FuseAll(IReadOnlyList{KanWeightParts})"/>; <see cref="KanWeightBatch"/> builds a model's twelve at once): under autograd one
/// autograd node for all of them, without it the kernel alone. Elsewhere, or with <see cref="EnvironmentVariable"/>=off
/// or the fused kernels disabled, the torch formulation runs through autograd, layer by layer.
/// </remarks>
public static class KanWeight
{
    /// <summary>Set to <c>off</c> to assemble the weight with torch operations on CUDA too (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_KAN_WEIGHT";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>[W_b, W_s·s] interleaved per input: (out, in·(1+K)); <paramref name="scaler"/> null means s = 1.</summary>
    public static Tensor Fuse(Tensor baseWeight, Tensor splineWeight, Tensor? scaler) =>
        FuseAll([new(baseWeight, splineWeight, scaler)])[0];

    /// <summary>Every layer's fused weight: on CUDA in one launch (one autograd node under autograd), else layer by layer.</summary>
    public static Tensor[] FuseAll(IReadOnlyList<KanWeightParts> layers) =>
        KernelsFor(layers) is { } kernels ? FuseAll(layers, kernels) : Torch.Instance.KanWeightForward(layers);

    /// <summary>The layers' weights by <paramref name="kernels"/>: one autograd node where a gradient is wanted, else the kernels alone.</summary>
    internal static Tensor[] FuseAll(IReadOnlyList<KanWeightParts> layers, IKanWeightKernels kernels) =>
        is_grad_enabled() && layers.Any(p => p.Needs != default) ? Apply(layers, kernels) : kernels.KanWeightForward(layers);

    /// <summary>The layers' weights as one autograd node computed by <paramref name="kernels"/> (CUDA, or <see cref="Torch.Instance"/> anywhere).</summary>
    public static Tensor[] Apply(IReadOnlyList<KanWeightParts> layers, IKanWeightKernels kernels)
    {
        object[] vars = [.. layers.SelectMany(p => new object[] { p.BaseWeight, p.SplineWeight, p.Scaler! }), kernels];
        var outputs = Function.apply(vars);
        OutputTemplates.Drop(outputs[0]);
        return [.. outputs];
    }

    /// <summary>
    /// The CUDA kernels where they apply to every layer: float32 contiguous CUDA tensors on one device, at most
    /// <see cref="MaxLayers"/> layers, fused kernels allowed and built, not turned off (<see cref="EnvironmentVariable"/>); else null.
    /// </summary>
    public static IKanWeightKernels? KernelsFor(IReadOnlyList<KanWeightParts> layers) =>
        layers.Count is > 0 and <= MaxLayers && Switch.Applies(layers[0].SplineWeight)
        && layers.All(p => Takes(p.BaseWeight, p.SplineWeight, p.Scaler) && SameDevice(p.SplineWeight, layers[0].SplineWeight))
            ? FusedSwitch.Kernels(layers[0].SplineWeight) : null;

    /// <summary>How many layers one launch takes (the kernels' table, KAN_WEIGHT_LAYERS in kan_weight.cu).</summary>
    public const int MaxLayers = 16;

    /// <summary>Whether the kernels take these tensors: float32, contiguous, W_b (out, in), W_s (out, in, K), s (out, in).</summary>
    public static bool Takes(Tensor baseWeight, Tensor splineWeight, Tensor? scaler) =>
        splineWeight.dim() == 3 && baseWeight.dim() == 2
        && baseWeight.shape[0] == splineWeight.shape[0] && baseWeight.shape[1] == splineWeight.shape[1]
        && (scaler is null || scaler.shape.SequenceEqual(baseWeight.shape))
        && new[] { baseWeight, splineWeight, scaler }.All(t => t is null || (t.dtype == ScalarType.Float32 && t.is_contiguous() && SameDevice(t, splineWeight)));

    static bool SameDevice(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;

    /// <summary><paramref name="body"/>'s result with the calling flow taking the kernels or not, whatever the environment says.</summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    sealed class Function : autograd.MultiTensorFunction<Function>
    {
        public override string Name => "KanWeight";

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            HandedBackGradients.Release();
            var layers = Layers(vars);
            var kernels = (IKanWeightKernels)vars[^1];
            ctx.save_for_backward([.. layers.SelectMany(p => p.Scaler is null ? new[] { p.BaseWeight, p.SplineWeight } : [p.BaseWeight, p.SplineWeight, p.Scaler])]);
            ctx.save_data("kernels", kernels);
            ctx.save_data("needs", layers.Select(p => p.Needs).ToArray());
            ctx.save_data("parameters", layers);   // the parameter objects themselves: DirectGradients' keys (the math uses the saved ones)
            OutputTemplates.Forward(ctx);
            return [.. kernels.KanWeightForward(layers)];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grads)
        {
            using var incoming = HandedBackGradients.Backward(grads);
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var saved = ctx.get_saved_variables();
            var kernels = (IKanWeightKernels)ctx.get_data("kernels");
            var needs = (KanWeightNeeds[])ctx.get_data("needs");
            var parameters = (KanWeightParts[])ctx.get_data("parameters");
            var layers = new KanWeightParts[parameters.Length];
            for (int l = 0, at = 0; l < layers.Length; l++)
            {
                bool scaled = parameters[l].Scaler is not null;
                layers[l] = new(saved[at], saved[at + 1], scaled ? saved[at + 2] : null);
                at += scaled ? 3 : 2;
            }
            var present = grads.Select(g => g is null || g.IsInvalid ? null : g.contiguous()).ToArray();
            // Gradients go straight into the optimizer's flat buffer where it opened a place (DirectGradients);
            // autograd then gets none for those parameters.
            var into = parameters.Select((p, l) => present[l] is null ? default : new KanWeightGradients(
                needs[l].Base ? DirectGradients.Take(p.BaseWeight) : null, needs[l].Spline ? DirectGradients.Take(p.SplineWeight) : null,
                needs[l].Scaler ? DirectGradients.Take(p.Scaler) : null)).ToArray();
            var result = kernels.KanWeightBackward(present, layers, needs, into);
            Tensor? ToAutograd(Tensor? computed, Tensor? written) => written is null ? computed : null;
            return HandedBackGradients.KeepAll([.. result.Zip(into).SelectMany(r => new[] { ToAutograd(r.First.Base, r.Second.Base)!,
                ToAutograd(r.First.Spline, r.Second.Spline)!, ToAutograd(r.First.Scaler, r.Second.Scaler)! }), null!]);
        }

        static KanWeightParts[] Layers(object[] vars) =>
            [.. Enumerable.Range(0, (vars.Length - 1) / 3).Select(l => new KanWeightParts((Tensor)vars[3 * l], (Tensor)vars[3 * l + 1], vars[3 * l + 2] as Tensor))];
    }

    /// <summary>The torch formulation (any device), layer by layer: what runs where the kernels do not, and their reference.</summary>
    public sealed class Torch : IKanWeightKernels
    {
        public static readonly Torch Instance = new();

        public Tensor[] KanWeightForward(IReadOnlyList<KanWeightParts> layers) => [.. layers.Select(Forward)];

        public KanWeightGradients[] KanWeightBackward(IReadOnlyList<Tensor?> grads, IReadOnlyList<KanWeightParts> layers, IReadOnlyList<KanWeightNeeds> needs,
            IReadOnlyList<KanWeightGradients>? into = null) =>
            [.. layers.Select((p, l) => grads[l] is { } g ? Into(Backward(g, p, needs[l]), into?[l] ?? default) : default)];

        /// <summary>Each computed gradient copied into its destination where one is given (which then stands for it).</summary>
        static KanWeightGradients Into(KanWeightGradients computed, KanWeightGradients destination)
        {
            static Tensor? One(Tensor? value, Tensor? into)
            {
                if (value is null || into is null) return value;
                into.copy_(value);
                value.Dispose();
                return into;
            }
            return new(One(computed.Base, destination.Base), One(computed.Spline, destination.Spline), One(computed.Scaler, destination.Scaler));
        }

        /// <summary>One layer's W: a broadcast multiply and a concatenation.</summary>
        public static Tensor Forward(KanWeightParts p)
        {
            using var scope = NewDisposeScope();
            var scaled = p.Scaler is null ? p.SplineWeight.alias() : p.SplineWeight * p.Scaler.unsqueeze(-1);
            return cat([p.BaseWeight.unsqueeze(-1), scaled], -1).view(p.BaseWeight.shape[0], -1).MoveToOuterDisposeScope();
        }

        /// <summary>One layer's gradients from its dL/dW.</summary>
        public static KanWeightGradients Backward(Tensor grad, KanWeightParts p, KanWeightNeeds needs)
        {
            using var scope = NewDisposeScope();
            var (splineWeight, scaler) = (p.SplineWeight, p.Scaler);
            long o = splineWeight.shape[0], i = splineWeight.shape[1], k = splineWeight.shape[2];
            var g = grad.reshape(o, i, k + 1);
            var gSpline = g.narrow(-1, 1, k);
            var gb = needs.Base ? g.select(-1, 0).contiguous() : null;
            var gs = !needs.Spline ? null : scaler is null ? gSpline.contiguous() : gSpline * scaler.unsqueeze(-1);
            var gsc = needs.Scaler && scaler is not null ? (gSpline * splineWeight).sum(-1) : null;
            return new(gb?.MoveToOuterDisposeScope(), gs?.MoveToOuterDisposeScope(), gsc?.MoveToOuterDisposeScope());
        }
    }
}
