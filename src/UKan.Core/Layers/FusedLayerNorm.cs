using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// nn.LayerNorm over the tokens' channels as one autograd node with fused CUDA kernels: U-KAN's patch embeddings, KAN
/// blocks and token stages (CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/archs.py</c>: <c>PatchEmbed.norm</c>,
/// <c>KANBlock.norm2</c>, <c>norm3</c>, <c>norm4</c>, <c>dnorm3</c>, <c>dnorm4</c>) normalise a few thousand rows of 128
/// to 512 channels each, where PyTorch's three kernels per layer and step are mostly launch and tail: on an H200 its
/// weight-and-bias gradient kernel alone took 14 µs per launch. The node computes the same function (biased variance,
/// eps inside the square root) and keeps x, the weight and each row's mean and 1/std for backward.
/// </summary>
/// <remarks>
/// Used when: fused kernels are allowed and built (<see cref="KanFeatures.UseFusedKernels"/>); x is a contiguous CUDA
/// tensor, float32, or bfloat16 under bf16 autocast (which runs LayerNorm in float32: the node takes the bf16 tokens as
/// they are and gives float32, where autocast would have cast them first); the layer normalises the last dimension,
/// at most <see cref="MaxChannels"/> wide, with float32 weight and bias. Elsewhere the module runs.
/// <see cref="EnvironmentVariable"/>=off turns it off. Without gradient (inference) the forward kernel runs alone.
/// Forward hooks on the module do not run on this path. <c>ukan selftest --device cuda</c> compares the kernels with the
/// module; a CPU test runs the kernel source under an emulation of CUDA's thread model.
/// </remarks>
public static class FusedLayerNorm
{
    /// <summary>Set to <c>off</c> to run LayerNorm as the module instead of the fused node (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_LAYER_NORM";

    /// <summary>The widest row the kernels keep in registers (16 values per lane of a warp).</summary>
    public const int MaxChannels = 512;

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Whether the fused node is switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>norm(x): the fused node where it applies (see the class), else the module.</summary>
    public static Tensor Forward(LayerNorm norm, Tensor x)
    {
        if (KernelsFor(norm, x) is not { } kernels) return norm.call(x);
        if (is_grad_enabled() && (x.requires_grad || norm.weight!.requires_grad || norm.bias!.requires_grad)) return Apply(norm, x, kernels);
        var (y, mean, rstd) = kernels.LayerNormForward(x, norm.weight!, norm.bias!, norm.eps);   // no graph: the forward kernel alone
        mean.Dispose();
        rstd.Dispose();
        return y;
    }

    /// <summary>
    /// Whether the kernels take <paramref name="x"/> with this weight and bias: x contiguous, float32 or bfloat16, its
    /// last dimension C ≤ <see cref="MaxChannels"/>; weight and bias float32 vectors of C.
    /// </summary>
    public static bool Takes(Tensor x, Tensor? weight, Tensor? bias) =>
        KernelStorage.Stores(x.dtype) && x.dim() >= 1 && x.is_contiguous() && x.shape[^1] is > 0 and <= MaxChannels
        && weight is not null && bias is not null && weight.dtype == ScalarType.Float32 && bias.dtype == ScalarType.Float32
        && weight.shape.SequenceEqual([x.shape[^1]]) && bias.shape.SequenceEqual([x.shape[^1]])
        && weight.is_contiguous() && bias.is_contiguous();

    /// <summary>The fused kernels for this layer and input, or null where the fused node does not apply.</summary>
    public static ILayerNormKernels? KernelsFor(LayerNorm norm, Tensor x) =>
        Switch.Applies(x) && (x.dtype == ScalarType.Float32 || Autocast.Bf16) && Takes(x, norm.weight, norm.bias)
            ? FusedSwitch.Kernels(x)
            : null;

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow taking the fused node or not, whatever the environment
    /// says (comparisons of both in one process).
    /// </summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>
    /// norm(x) as one autograd node computed by <paramref name="kernels"/>: the CUDA kernels, or <see cref="Torch.Instance"/>
    /// (any device; the reference the tests check against the module).
    /// </summary>
    public static Tensor Apply(LayerNorm norm, Tensor x, ILayerNormKernels kernels) =>
        OutputTemplates.Drop(Function.apply(x, norm.weight!, norm.bias!, kernels, norm.eps));

    /// <summary>The node: saves x, w and the rows' mean and rstd; backward recomputes the normalised rows.</summary>
    sealed class Function : AffineNormFunction<Function, ILayerNormKernels>
    {
        public override string Name => "LayerNorm";

        protected override (Tensor Y, Tensor[] Saved) Forward(ILayerNormKernels kernels, Tensor x, Tensor weight, Tensor bias, object[] rest)
        {
            var (y, mean, rstd) = kernels.LayerNormForward(x, weight, bias, (double)rest[0]);
            return (y, [mean, rstd]);
        }

        protected override (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) Backward(ILayerNormKernels kernels, Tensor x,
            Tensor weight, IList<Tensor> saved, Tensor grad) =>
            kernels.LayerNormBackward(x, grad, saved[0], saved[1], weight);
    }

    /// <summary>
    /// The torch formulation of the fused kernels (any device), in float32 whatever x's storage: the reference they are
    /// checked against, and which the tests check against nn.LayerNorm and its autograd gradients.
    /// </summary>
    public sealed class Torch : ILayerNormKernels
    {
        public static readonly Torch Instance = new();

        public (Tensor Y, Tensor Mean, Tensor Rstd) LayerNormForward(Tensor x, Tensor weight, Tensor bias, double eps)
        {
            using var scope = NewDisposeScope();
            var xf = x.to(float32);
            var mean = xf.mean([-1], keepdim: true);
            var rstd = ((xf - mean).square().mean([-1], keepdim: true) + eps).rsqrt();
            var y = (xf - mean) * rstd * weight + bias;
            return (y.MoveToOuterDisposeScope(), mean.flatten().MoveToOuterDisposeScope(), rstd.flatten().MoveToOuterDisposeScope());
        }

        public (Tensor GradX, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor x, Tensor grad, Tensor mean, Tensor rstd, Tensor weight)
        {
            using var scope = NewDisposeScope();
            long c = x.shape[^1];
            var rows = x.to(float32).reshape(-1, c);
            var g = grad.to(float32).reshape(-1, c);
            var (m, r) = (mean.reshape(-1, 1), rstd.reshape(-1, 1));
            var xhat = (rows - m) * r;
            var wg = g * weight;
            var dx = r * (wg - wg.mean([-1], keepdim: true) - xhat * (wg * xhat).mean([-1], keepdim: true));
            return (dx.reshape(x.shape).to(x.dtype).MoveToOuterDisposeScope(), (g * xhat).sum([0]).MoveToOuterDisposeScope(),
                g.sum([0]).MoveToOuterDisposeScope());
        }
    }
}
