using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Losses;

/// <summary>
/// <see cref="BceDiceLoss"/> as one autograd node with fused CUDA kernels (Native/Kernels/bce_dice.cu): the loss in two
/// launches (per-block partial sums, their merge) and its gradient in one, where PyTorch runs the formula as about a
/// dozen kernels forward (sigmoid, products, three reductions, the BCE) and two dozen backward. The node keeps only
/// the three sums per image for its backward, besides the logits and targets the step keeps anyway.
/// </summary>
/// <remarks>
/// Used when the logits and targets are float32 CUDA tensors of one shape and strides, dense, at most 1,024 images,
/// fused kernels allowed (<see cref="KanFeatures.UseFusedKernels"/>) and built, and <see cref="EnvironmentVariable"/>
/// is not off; elsewhere the module's formula runs. The sums are reduced in a fixed order (no atomics), so
/// deterministic training stays deterministic. <c>ukan selftest --device cuda</c> compares it with the formula.
/// </remarks>
public static class FusedBceDice
{
    /// <summary>Set to <c>off</c> to run the loss as PyTorch's operations instead of the fused node (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_LOSS";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Whether the fused node is switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>The most images in a batch the kernels take (one thread per image merges its sums).</summary>
    public const int MaxImages = 1024;

    /// <summary>
    /// Whether the kernels take the pair: float32, 1 to <see cref="MaxImages"/> images, dense with each image one run of
    /// memory (contiguous or channels-last), the target in the logits' memory order (the kernels walk both in it).
    /// </summary>
    public static bool Takes(Tensor logits, Tensor target) =>
        logits.dtype == ScalarType.Float32 && logits.dim() >= 2 && logits.shape[0] is > 0 and <= MaxImages && logits.numel() > 0
        && TensorLayout.IsDense(logits) && (logits.shape[0] == 1 || logits.stride(0) == logits.numel() / logits.shape[0])
        && TensorLayout.SameMemoryOrder(logits, target);

    /// <summary>The fused kernels for this pair, or null where the module's formula runs.</summary>
    public static IBceDiceKernels? KernelsFor(Tensor logits, Tensor target) =>
        Switch.Applies(logits) && Takes(logits, target) ? FusedSwitch.Kernels(logits) : null;

    /// <summary><paramref name="body"/>'s result with the calling flow taking the fused node or not (comparisons in one process).</summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>The loss as one autograd node computed by <paramref name="kernels"/> (the CUDA kernels or <see cref="Torch.Instance"/>).</summary>
    public static Tensor Apply(Tensor logits, Tensor target, double bceWeight, IBceDiceKernels kernels) =>
        OutputTemplates.Drop(Function.apply(logits, target, kernels, bceWeight));

    sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "BceDiceLoss";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            HandedBackGradients.Release();
            var (logits, target) = ((Tensor)vars[0], (Tensor)vars[1]);
            var kernels = (IBceDiceKernels)vars[2];
            var bceWeight = (double)vars[3];
            var (loss, sums) = kernels.BceDiceForward(logits, target, bceWeight, BceDiceLoss.Smooth);
            ctx.save_for_backward([logits, target, sums]);
            ctx.save_data("kernels", kernels);
            ctx.save_data("weight", bceWeight);
            OutputTemplates.Forward(ctx);
            return loss;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor g)
        {
            using var incoming = HandedBackGradients.Backward(g);
            if (g is null || g.IsInvalid) return [null!, null!, null!, null!];
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var saved = ctx.get_saved_variables();
            var kernels = (IBceDiceKernels)ctx.get_data("kernels");
            var dx = kernels.BceDiceBackward(saved[0], saved[1], saved[2], g, (double)ctx.get_data("weight"), BceDiceLoss.Smooth);
            return [HandedBackGradients.Keep(dx.DetachFromDisposeScope()), null!, null!, null!];
        }
    }

    /// <summary>
    /// The torch formulation of the kernels (any device): the module's formula forward (<see cref="BceDiceLoss.Formula"/>)
    /// and the gradient written out backward; the reference the kernels are checked against, its backward checked
    /// against autograd through the formula.
    /// </summary>
    public sealed class Torch : IBceDiceKernels
    {
        public static readonly Torch Instance = new();

        public (Tensor Loss, Tensor Sums) BceDiceForward(Tensor logits, Tensor target, double bceWeight, double smooth)
        {
            using var scope = NewDisposeScope();
            var (loss, sums) = BceDiceLoss.Formula(logits, target, bceWeight, smooth);
            return (loss.MoveToOuterDisposeScope(), sums.MoveToOuterDisposeScope());
        }

        public Tensor BceDiceBackward(Tensor logits, Tensor target, Tensor sums, Tensor gradLoss, double bceWeight, double smooth)
        {
            using var scope = NewDisposeScope();
            long n = logits.shape[0];
            var p = logits.sigmoid().reshape(n, -1);
            var t = target.reshape(n, -1);
            var d = (sums[.., 1] + sums[.., 2] + smooth).unsqueeze(1);
            var num = (2 * sums[.., 0] + smooth).unsqueeze(1);
            var dLogits = bceWeight * (p - t) / logits.numel() - (2 * t * d - num) / (n * d * d) * p * (1 - p);
            return (gradLoss * dLogits).view_as(logits).MoveToOuterDisposeScope();
        }
    }
}
