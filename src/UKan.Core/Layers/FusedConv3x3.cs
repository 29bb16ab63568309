using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// 3 × 3 convolutions (stride 1, zero padding 1) by our CUDA kernels where cuDNN is slow: the layers with few channels
/// (U-KAN's encoder1/encoder2 and decoder4/decoder5 of CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/archs.py</c>: 16 → 16,
/// 16 → 32, 32 → 32 and 32 → 16 channels at full and half resolution in the paper's model), the depthwise convolutions
/// of the KAN blocks (<c>DW_bn_relu</c>), and the first layer on the images (3 → 16: forward and weight gradient; its
/// input gradient, which training does not need, stays with cuDNN). One autograd node: forward by the kernels, backward the input gradient and the
/// weight gradient by theirs; it saves x and the weight, as PyTorch's convolution does.
/// </summary>
/// <remarks>
/// Arithmetic: the few-channel layers run on the tensor cores in TF32 (inputs rounded to 10 mantissa bits, products
/// summed in float), as PyTorch's default (<c>torch.backends.cudnn.allow_tf32</c>) lets cuDNN run them; where TF32 is
/// not allowed (<c>--precision fp32-strict</c>) cuDNN runs them in float32 as before. The depthwise layers and the
/// first layer run in float32 on the CUDA cores. Sums run in another order than cuDNN's, so results differ from its in the last bits. The weight gradient is a two-stage reduction without
/// atomics: the same inputs give the same bits on the same GPU. <c>ukan selftest --device cuda</c> compares the
/// kernels with <see cref="Torch"/> (PyTorch's convolution in float32); CPU tests run the kernel source under an
/// emulation of CUDA's thread model. Taken when x is a float32 CUDA tensor dense in channels-last (the layout our
/// training uses on CUDA), the weight float32 3 × 3, stride, padding and dilation 1, no bf16 autocast, the shape one the
/// kernels have (<see cref="IConv3x3Kernels.Conv3x3Supports"/>), fused kernels allowed and built, and
/// <see cref="EnvironmentVariable"/> not <c>off</c>; everywhere else <c>F.conv2d</c> runs as before.
/// </remarks>
public static class FusedConv3x3
{
    /// <summary>Set to <c>off</c> to run these convolutions by PyTorch (cuDNN) instead (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_CONV";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Whether the kernels are switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>
    /// conv2d(x, weight, bias, stride, padding, dilation, groups): the kernels where they apply (see the class; with a
    /// bias only where no gradient is needed, i.e. inference), else <c>F.conv2d</c>.
    /// </summary>
    /// <param name="statistics">
    /// If given and the kernels run without a bias, receives the output's batch statistics where they form them
    /// (<see cref="IConv3x3Kernels.Conv3x3WithStatistics"/>; else left null): for the batch norm that follows. The caller
    /// disposes them.
    /// </param>
    public static Tensor Forward(Tensor x, Tensor weight, Tensor? bias, long[] stride, long[] padding, long[] dilation, long groups,
        StrongBox<Tensor?>? statistics = null)
    {
        bool tracked = is_grad_enabled() && (x.requires_grad || weight.requires_grad || bias?.requires_grad == true);
        if ((bias is null || !tracked) && KernelsFor(x, weight, stride, padding, dilation, groups) is { } kernels)
        {
            if (bias is null && statistics is not null && StatisticsSwitch.Applies(x))
                return tracked ? Apply(x, weight, kernels, statistics) : Untracked(kernels.Conv3x3WithStatistics(x, weight), statistics);
            return tracked ? Apply(x, weight, kernels) : kernels.Conv3x3(x, weight, bias);
        }
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups);
    }

    static Tensor Untracked((Tensor Y, Tensor? Statistics) result, StrongBox<Tensor?> statistics)
    {
        statistics.Value = result.Statistics?.DetachFromDisposeScope();
        return result.Y;
    }

    /// <summary>
    /// Set to <c>off</c> to have the batch norm after one of these convolutions read its output for its statistics
    /// instead of taking them from the convolution's kernel (a comparison).
    /// </summary>
    public const string StatisticsVariable = "UKAN_CONV_BN_STATS";

    static readonly FusedSwitch StatisticsSwitch = new(StatisticsVariable);

    /// <summary><paramref name="body"/>'s result with the calling flow taking the statistics from the kernels or not, whatever the environment says.</summary>
    internal static T WithStatistics<T>(bool formed, Func<T> body) => StatisticsSwitch.With(formed, body);

    /// <summary>
    /// Whether the convolution has the form the kernels compute: float32 (N, C, H, W) x dense channels-last, a float32
    /// 3 × 3 weight on x's device, stride, padding and dilation 1, and no bf16 autocast (which would run it in bf16).
    /// </summary>
    public static bool Shaped(Tensor x, Tensor weight, long[] stride, long[] padding, long[] dilation, long groups) =>
        x.dim() == 4 && weight.dim() == 4 && x.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32 && !Autocast.Bf16
        && weight.device_type == x.device_type && weight.device_index == x.device_index
        && weight.shape[2] == 3 && weight.shape[3] == 3 && groups >= 1 && weight.shape[1] * groups == x.shape[1] && weight.shape[0] % groups == 0
        && Ones(stride) && Ones(padding) && Ones(dilation) && TensorLayout.IsChannelsLastDense(x);

    static bool Ones(long[]? values) => values is { Length: 1 or 2 } && values.All(v => v == 1);

    /// <summary>The fused kernels for this convolution, or null where they do not apply.</summary>
    public static IConv3x3Kernels? KernelsFor(Tensor x, Tensor weight, long[] stride, long[] padding, long[] dilation, long groups) =>
        Switch.Applies(x) && Shaped(x, weight, stride, padding, dilation, groups) && FusedSwitch.Kernels(x) is { } kernels
        && kernels.Conv3x3Supports(x.shape[1], weight.shape[0], groups, backends.cudnn.allow_tf32)
            ? kernels : null;

    /// <summary><paramref name="body"/>'s result with the calling flow taking the kernels or not, whatever the environment says.</summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>
    /// conv2d(x, weight) (stride, padding 1, no bias) as one autograd node computed by <paramref name="kernels"/>: the
    /// CUDA kernels, or <see cref="Torch.Instance"/> (any device; the reference the tests check).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor weight, IConv3x3Kernels kernels, StrongBox<Tensor?>? statistics = null) =>
        OutputTemplates.Drop(statistics is null ? Function.apply(x, weight, kernels) : Function.apply(x, weight, kernels, statistics));

    sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "Conv3x3";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            HandedBackGradients.Release();
            var (x, weight, kernels) = ((Tensor)vars[0], (Tensor)vars[1], (IConv3x3Kernels)vars[2]);
            ctx.save_for_backward([x, weight]);
            ctx.save_data("kernels", kernels);
            ctx.save_data("grads", (x.requires_grad, weight.requires_grad));
            ctx.save_data("arguments", vars.Length);
            OutputTemplates.Forward(ctx);
            // The statistics travel in a box: a tensor returned or passed in would become part of the autograd node.
            return vars.Length > 3 && vars[3] is StrongBox<Tensor?> statistics
                ? Untracked(kernels.Conv3x3WithStatistics(x, weight), statistics)
                : kernels.Conv3x3(x, weight, null);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor g)
        {
            using var incoming = HandedBackGradients.Backward(g);
            // One entry per forward argument (x, weight, kernels and, if given, the statistics' box).
            var arguments = (int)ctx.get_data("arguments");
            if (g is null || g.IsInvalid) return [.. Enumerable.Repeat<Tensor>(null!, arguments)];
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var saved = ctx.get_saved_variables();
            var (x, weight) = (saved[0], saved[1]);
            var kernels = (IConv3x3Kernels)ctx.get_data("kernels");
            var (needX, needWeight) = ((bool, bool))ctx.get_data("grads");
            var gx = needX ? kernels.Conv3x3BackwardInput(g, weight, x.shape[1] / weight.shape[1]) : null;
            var gw = needWeight ? kernels.Conv3x3BackwardWeight(x, g, weight) : null;
            return HandedBackGradients.KeepAll([gx!, gw!, .. Enumerable.Repeat<Tensor>(null!, arguments - 2)]);
        }
    }

    /// <summary>
    /// <paramref name="t"/>'s values rounded to TF32 as the tensor cores' operands are (cvt.rna.tf32.f32: 10 mantissa
    /// bits, to nearest, ties away from zero: half of the last kept bit added to the bits, then the rest cut), as float64
    /// on the CPU: the inputs on which the few-channel kernels' results equal the torch formulation up to float sums.
    /// </summary>
    public static Tensor Tf32Rounded(Tensor t)
    {
        var values = t.detach().to(ScalarType.Float32).cpu().contiguous().data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
            if (float.IsFinite(values[i]))
                values[i] = BitConverter.UInt32BitsToSingle((BitConverter.SingleToUInt32Bits(values[i]) + 0x1000u) & 0xFFFFE000u);
        return tensor(values).view(t.shape).to(ScalarType.Float64);
    }

    /// <summary>The torch formulation (any device): PyTorch's convolution and its two gradients; the kernels' reference.</summary>
    public sealed class Torch : IConv3x3Kernels
    {
        public static readonly Torch Instance = new();

        public bool Conv3x3Supports(long inChannels, long outChannels, long groups, bool tf32) => true;

        public Tensor Conv3x3(Tensor x, Tensor weight, Tensor? bias) =>
            F.conv2d(x, weight, bias, padding: [1, 1], groups: x.shape[1] / weight.shape[1]);

        /// <summary>The convolution and its output's statistics as one group per channel (count, mean, M2; float64 sums).</summary>
        public (Tensor Y, Tensor? Statistics) Conv3x3WithStatistics(Tensor x, Tensor weight)
        {
            using var scope = NewDisposeScope();
            var y = Conv3x3(x, weight, null);
            var y64 = y.detach().to(float64);
            long[] reduced = [0, 2, 3];
            var mean = y64.mean(reduced);
            var m2 = (y64 - mean.view(1, -1, 1, 1)).square().sum(reduced);
            var count = full_like(mean, (double)(y.numel() / Math.Max(1, y.shape[1])));
            var statistics = stack([count, mean, m2]).to(float32).contiguous();
            return (y.MoveToOuterDisposeScope(), statistics.MoveToOuterDisposeScope());
        }

        // The adjoint of the convolution: the transposed convolution with the same weight.
        public Tensor Conv3x3BackwardInput(Tensor grad, Tensor weight, long groups) =>
            F.conv_transpose2d(grad, weight, padding: [1, 1], groups: groups);

        public Tensor Conv3x3BackwardWeight(Tensor x, Tensor grad, Tensor weight)
        {
            using var scope = NewDisposeScope();
            using var enabled = enable_grad();
            var w = weight.detach().requires_grad_();
            var y = F.conv2d(x.detach(), w, null, padding: [1, 1], groups: x.shape[1] / weight.shape[1]);
            var gw = autograd.grad([y], [w], [grad])[0];
            return TensorLayout.WithStrides(gw, TensorLayout.DenseStrides(weight.shape[1], 3, 3, true)).MoveToOuterDisposeScope();
        }
    }
}
