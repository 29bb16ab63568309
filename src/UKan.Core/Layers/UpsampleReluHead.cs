using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The end of U-KAN's decoder, the last relu(×2 bilinear upsampling) and the 1 × 1 segmentation head, as one autograd
/// node with fused CUDA kernels: <c>self.final(F.relu(F.interpolate(self.decoder5(out), scale_factor=(2,2),
/// mode='bilinear')))</c> (CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/archs.py</c>, <c>UKAN.forward</c>). Between the
/// two sits the largest map of the network (C channels at full resolution, 34 MB at batch 8, 16 channels, 256²), which
/// the separate operations write, read, and write and read again as its gradient; the fused node never forms it: it
/// reads x and writes the K-channel output forward, and reads x and dL/dz backward, recomputing the upsampled values
/// (for ReLU's mask and the head's weight gradient) from x as <see cref="UpsampleRelu"/> does.
/// </summary>
/// <remarks>
/// Applies where <see cref="UpsampleRelu"/>'s fused node does (CUDA, fused kernels on,
/// <see cref="UpsampleRelu.EnvironmentVariable"/> not off), <see cref="EnvironmentVariable"/> is not off, and the shapes
/// fit the kernels (<see cref="Takes"/>): a float32 channels-last x of 4, 8, 16, 32 or 64 channels, and a plain
/// nn.Conv2d head (1 × 1, stride 1, no padding, one group) with a bias and at most <see cref="MaxClasses"/> classes;
/// elsewhere the head runs after <see cref="UpsampleRelu.Forward(Tensor)"/> as before. The head's products are float32
/// (PyTorch's default would let cuDNN run this 1 × 1 convolution in TF32); the head's hooks do not run on the fused
/// path (none are registered in training; the model summary, which hooks every module, runs on the CPU).
/// <c>ukan selftest --device cuda</c> compares the kernels with the separate operations.
/// </remarks>
public static class UpsampleReluHead
{
    /// <summary>
    /// Set to <c>off</c> to run the head after the upsampling node (a comparison); <see cref="UpsampleRelu.EnvironmentVariable"/>=off
    /// turns both off.
    /// </summary>
    public const string EnvironmentVariable = "UKAN_FUSED_HEAD";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Whether the fused node is switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>The most classes (output channels of the head) the kernels take: their per-lane sums live in registers.</summary>
    public const int MaxClasses = 4;

    /// <summary>head(relu(up(x))): the fused node where it applies (see the class), else the upsampling node then the head.</summary>
    public static Tensor Forward(Tensor x, nn.Module<Tensor, Tensor> head)
    {
        if (Conv(head) is { } conv && KernelsFor(x, conv.weight!, conv.bias) is { } kernels)
            return (x.requires_grad || conv.weight!.requires_grad || conv.bias!.requires_grad) && is_grad_enabled()
                ? Apply(x, conv.weight!, conv.bias!, kernels)
                : kernels.UpsampleTwiceReluConv1x1(x, conv.weight!, conv.bias!);
        return head.call(UpsampleRelu.Forward(x));
    }

    /// <summary><paramref name="head"/> as a plain 1 × 1 nn.Conv2d with a bias (stride 1, no padding, one group), else null.</summary>
    internal static Conv2d? Conv(nn.Module<Tensor, Tensor> head) =>
        head is Conv2d c && c.bias is not null && c.weight is { } w && w.dim() == 4 && w.shape[2] == 1 && w.shape[3] == 1
        && c.stride.All(s => s == 1) && c.padding_type is null && c.padding is { } p && p.All(v => v == 0) && c.dilation.All(d => d == 1)
        && c.groups == 1 && c.padding_mode == PaddingModes.Zeros
            ? c : null;

    /// <summary>
    /// Whether the kernels take x (float32 (N, C, H, W) dense channels-last, C = 4 · 2^j ≤ 64, 16-byte aligned), the
    /// weight (float32 contiguous (K, C, 1, 1), 1 ≤ K ≤ <see cref="MaxClasses"/>) and the bias (null or float32 (K)).
    /// </summary>
    public static bool Takes(Tensor x, Tensor weight, Tensor? bias)
    {
        // Channels-last memory order; with one channel or 1 × 1 images that is also NCHW's (DenseChannelsLast says false).
        if (x.dtype != ScalarType.Float32 || x.dim() != 4
            || TensorLayout.DenseChannelsLast(x) is not { } last || !(last || x.shape[1] == 1 || x.shape[2] * x.shape[3] == 1)) return false;
        long c = x.shape[1], k = weight.dim() == 4 ? weight.shape[0] : 0;
        // Lanes of 4 channels forward, of 2 backward (at most a warp a pixel).
        bool channelsFit = c >= 4 && c <= 64 && c % 4 == 0 && long.IsPow2(c / 4);
        return channelsFit && (UKan.Native.TensorPointer.Of(x).ToInt64() & 15) == 0
            && weight.dtype == ScalarType.Float32 && weight.is_contiguous() && weight.shape.SequenceEqual([k, c, 1, 1]) && k is >= 1 and <= MaxClasses
            && (bias is null || (bias.dtype == ScalarType.Float32 && bias.is_contiguous() && bias.shape.SequenceEqual([k])))
            && weight.device_type == x.device_type && (bias is null || bias.device_type == x.device_type);
    }

    /// <summary>The fused kernels for this input and head, or null where the fused node does not apply.</summary>
    public static IUpsampleKernels? KernelsFor(Tensor x, Tensor weight, Tensor? bias) =>
        Switch.Applies(x) && UpsampleRelu.KernelsFor(x) is { } kernels && Takes(x, weight, bias) ? kernels : null;

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow taking the fused node or not, whatever the environment
    /// says (comparisons of both in one process).
    /// </summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>
    /// conv1x1(relu(up(x)); w, b) as one autograd node computed by <paramref name="kernels"/>: the CUDA kernels, or
    /// <see cref="UpsampleRelu.Torch.Instance"/> (any device; the reference the tests check against PyTorch's operations).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor weight, Tensor bias, IUpsampleKernels kernels) =>
        OutputTemplates.Drop(Function.apply(x, weight, bias, kernels));

    /// <summary>The node: saves x and w; backward recomputes the upsampled map from x.</summary>
    sealed class Function : AffineNormFunction<Function, IUpsampleKernels>
    {
        public override string Name => "UpsampleTwiceReluConv1x1";

        protected override (Tensor Y, Tensor[] Saved) Forward(IUpsampleKernels kernels, Tensor x, Tensor weight, Tensor bias, object[] rest) =>
            (kernels.UpsampleTwiceReluConv1x1(x, weight, bias), []);

        protected override (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) Backward(IUpsampleKernels kernels, Tensor x, Tensor weight,
            IList<Tensor> saved, Tensor grad, Tensor?[] own) => kernels.UpsampleTwiceReluConv1x1Backward(x, weight, grad);
    }
}
