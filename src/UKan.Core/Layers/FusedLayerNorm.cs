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

    /// <summary>
    /// norm(x), or norm(x + <paramref name="inputBias"/>) (a bias of the layer before, over the last dimension): the fused
    /// node where it applies (see the class; the bias added as it loads x), else the module (after the addition).
    /// </summary>
    public static Tensor Forward(LayerNorm norm, Tensor x, Tensor? inputBias = null)
    {
        if (KernelsFor(norm, x) is not { } kernels || inputBias is not null && !TakesInputBias(inputBias, x.shape[^1]))
            return norm.call(inputBias is null ? x : x + inputBias);
        if (is_grad_enabled() && (x.requires_grad || norm.weight!.requires_grad || norm.bias!.requires_grad || inputBias?.requires_grad == true))
            return Apply(norm, x, kernels, inputBias);
        var (y, mean, rstd) = kernels.LayerNormForward(x, norm.weight!, norm.bias!, norm.eps, inputBias);   // no graph: the forward kernel alone
        mean.Dispose();
        rstd.Dispose();
        return y;
    }

    /// <summary>
    /// Set to <c>off</c> to have a layer before the LayerNorm add its bias itself (the patch embedding's convolution:
    /// a broadcast add forward and a reduction for its gradient) instead of the fused node adding it (a comparison).
    /// </summary>
    public const string BiasBeforeVariable = "UKAN_BIAS_IN_LAYER_NORM";

    static readonly FusedSwitch BiasBefore = new(BiasBeforeVariable);

    /// <summary>
    /// Whether a layer whose output (computed from <paramref name="x"/>) goes into the fused node should hand its bias to
    /// it (<see cref="Forward"/>'s inputBias): both switches on, fused kernels allowed, x on CUDA.
    /// </summary>
    public static bool TakesBiasBefore(Tensor x) => BiasBefore.Applies(x) && Switch.Applies(x);

    /// <summary><paramref name="body"/>'s result with the bias handed to the node or not, whatever the environment says.</summary>
    internal static T WithBiasBefore<T>(bool on, Func<T> body) => BiasBefore.With(on, body);

    /// <summary>Whether the kernels take <paramref name="inputBias"/> for rows of <paramref name="channels"/>: a contiguous float32 vector of that length.</summary>
    public static bool TakesInputBias(Tensor inputBias, long channels) =>
        inputBias.dtype == ScalarType.Float32 && inputBias.is_contiguous() && inputBias.shape.SequenceEqual([channels]);

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
    public static Tensor Apply(LayerNorm norm, Tensor x, ILayerNormKernels kernels, Tensor? inputBias = null) =>
        OutputTemplates.Drop(Function.apply(x, norm.weight!, norm.bias!, kernels, norm.eps, inputBias!));

    /// <summary>
    /// The node: saves x, w, the rows' mean and rstd (and the input bias); backward recomputes the normalised rows. The
    /// input bias, apply's sixth argument, gets its gradient as the node's own (AffineNormFunction's <c>own</c>).
    /// </summary>
    sealed class Function : AffineNormFunction<Function, ILayerNormKernels>
    {
        public override string Name => "LayerNorm";

        protected override (Tensor Y, Tensor[] Saved) Forward(ILayerNormKernels kernels, Tensor x, Tensor weight, Tensor bias, object[] rest)
        {
            var inputBias = rest[1] as Tensor;
            var (y, mean, rstd) = kernels.LayerNormForward(x, weight, bias, (double)rest[0], inputBias);
            return (y, inputBias is null ? [mean, rstd] : [mean, rstd, inputBias]);
        }

        protected override (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) Backward(ILayerNormKernels kernels, Tensor x,
            Tensor weight, IList<Tensor> saved, Tensor grad, Tensor?[] own)
        {
            var inputBias = saved.Count > 2 ? saved[2] : null;
            own[1] = inputBias is null ? null : empty(inputBias.shape, dtype: float32, device: inputBias.device);
            return kernels.LayerNormBackward(x, grad, saved[0], saved[1], weight, inputBias, own[1]);
        }
    }

    /// <summary>
    /// The torch formulation of the fused kernels (any device), in float32 whatever x's storage: the reference they are
    /// checked against, and which the tests check against nn.LayerNorm and its autograd gradients.
    /// </summary>
    public sealed class Torch : ILayerNormKernels
    {
        public static readonly Torch Instance = new();

        public (Tensor Y, Tensor Mean, Tensor Rstd) LayerNormForward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor? inputBias = null)
        {
            using var scope = NewDisposeScope();
            var xf = Rows(x, inputBias);
            var mean = xf.mean([-1], keepdim: true);
            var rstd = ((xf - mean).square().mean([-1], keepdim: true) + eps).rsqrt();
            var y = (xf - mean) * rstd * weight + bias;
            return (y.MoveToOuterDisposeScope(), mean.flatten().MoveToOuterDisposeScope(), rstd.flatten().MoveToOuterDisposeScope());
        }

        public (Tensor GradX, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor x, Tensor grad, Tensor mean, Tensor rstd, Tensor weight,
            Tensor? inputBias = null, Tensor? gradInputBias = null)
        {
            using var scope = NewDisposeScope();
            long c = x.shape[^1];
            var rows = Rows(x, inputBias).reshape(-1, c);
            var g = grad.to(float32).reshape(-1, c);
            var (m, r) = (mean.reshape(-1, 1), rstd.reshape(-1, 1));
            var xhat = (rows - m) * r;
            var wg = g * weight;
            var dx = r * (wg - wg.mean([-1], keepdim: true) - xhat * (wg * xhat).mean([-1], keepdim: true));
            gradInputBias?.copy_(dx.sum([0]));
            return (dx.reshape(x.shape).to(x.dtype).MoveToOuterDisposeScope(), (g * xhat).sum([0]).MoveToOuterDisposeScope(),
                g.sum([0]).MoveToOuterDisposeScope());
        }

        /// <summary>The rows the layer normalises: x in float32, plus the input bias where there is one.</summary>
        static Tensor Rows(Tensor x, Tensor? inputBias) => inputBias is null ? x.to(float32) : x.to(float32) + inputBias;
    }
}
