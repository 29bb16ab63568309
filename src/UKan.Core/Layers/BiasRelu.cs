using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The bias add and ReLU after a convolution with its batch norm folded in (<see cref="FoldedConv"/>, inference) as one
/// in-place pass: every conv → BatchNorm2d pair of U-KAN (CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/archs.py</c>:
/// <c>ConvLayer</c>, <c>D_ConvLayer</c>, <c>DW_bn_relu</c>) and of the convolutional baselines' double convolutions is
/// followed by a ReLU. PyTorch runs conv(x; W, b) then ReLU as cuDNN's convolution, a separate broadcast bias add and
/// ReLU: two passes over the output after the convolution. Here the convolution runs without its bias and one kernel
/// (Native/Kernels/bias_relu.cu) computes relu(y + b) over its output in place.
/// </summary>
/// <remarks>
/// The result is PyTorch's: the same float addition and ReLU (NaN passes); on a bfloat16 map (bf16 autocast) the sum is
/// taken in float with the float32 bias and rounded once, as torch's in-place add of a float32 bias does (autocast's
/// own bias add first rounds the bias to bfloat16: a difference within one bf16 step). The kernel has no backward, so it
/// runs only where no autograd graph is recorded, and only on CUDA for a float32 or bfloat16 output dense in NCHW or
/// channels-last, with fused kernels allowed (<see cref="KanFeatures.UseFusedKernels"/>) and built; elsewhere the
/// convolution adds its bias and ReLU follows, as before. <see cref="EnvironmentVariable"/>=off turns it off.
/// <c>ukan selftest --device cuda</c> compares the kernel with <see cref="Torch"/>, and a CPU test runs the kernel
/// source under an emulation of CUDA's thread model.
/// </remarks>
public static class BiasRelu
{
    /// <summary>Set to <c>off</c> to run the folded convolution with its bias, then ReLU, instead of the fused pass (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_BIAS_RELU";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Whether the fused pass is switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>
    /// Whether a convolution of <paramref name="x"/> followed by bias + ReLU should leave its bias to the fused pass: the
    /// switch is on, fused kernels are allowed, x is on CUDA, and no autograd graph will be recorded (the kernel has
    /// no backward).
    /// </summary>
    public static bool Fuses(Tensor x) => Switch.Applies(x) && !(x.requires_grad && is_grad_enabled());

    /// <summary>
    /// Whether the kernel takes <paramref name="y"/>: float32 or bfloat16 (N, C, H, W), dense in NCHW or channels-last
    /// (<see cref="TensorLayout.DenseChannelsLast"/>).
    /// </summary>
    public static bool Takes(Tensor y) =>
        (y.dtype == ScalarType.Float32 || y.dtype == ScalarType.BFloat16) && TensorLayout.DenseChannelsLast(y) is not null;

    /// <summary>The fused kernel for this output (no gradient recorded on it), or null where it does not apply.</summary>
    public static IBiasReluKernels? KernelsFor(Tensor y) =>
        Switch.Applies(y) && Takes(y) && !y.requires_grad ? FusedSwitch.Kernels(y) : null;

    /// <summary>relu(y + bias) in place on a bias-free convolution's output: the kernel where it applies, else <see cref="Torch"/>.</summary>
    public static Tensor InPlace(Tensor y, Tensor bias) => (KernelsFor(y) ?? (IBiasReluKernels)Torch.Instance).BiasReluInPlace(y, bias);

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow taking the fused pass or not, whatever the environment
    /// says (comparisons of both in one process).
    /// </summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>
    /// The torch formulation of the kernel (any device, dtype and layout): an in-place broadcast add of the float32 bias,
    /// then an in-place ReLU. The reference the kernel is checked against.
    /// </summary>
    public sealed class Torch : IBiasReluKernels
    {
        public static readonly Torch Instance = new();

        public Tensor BiasReluInPlace(Tensor y, Tensor bias)
        {
            using var scope = NewDisposeScope();
            y.add_(bias.to(float32).view(1, -1, 1, 1)).relu_();
            return y;
        }
    }
}
