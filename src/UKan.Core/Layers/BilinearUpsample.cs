using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// ×2 bilinear upsampling with align_corners = false (<c>F.interpolate(x, scale_factor=2, mode="bilinear")</c>), the
/// upsampling of U-KAN's and UNeXt's decoders. Its forward is PyTorch's. In <see cref="Deterministic"/> mode its
/// backward is a fixed strided convolution instead of PyTorch's CUDA kernel, which accumulates with atomics in an
/// order that varies between runs (PyTorch lists it among the operations without a deterministic implementation).
/// </summary>
/// <remarks>
/// Along one axis, output i samples the input at (i + ½)/2 − ½, clamped at 0: y[2j] = ¼·x[j−1] + ¾·x[j] and
/// y[2j+1] = ¾·x[j] + ¼·x[j+1], with x read at clamped indices (x[−1] = x[0], x[n] = x[n−1]). So the gradient of x[j]
/// is ¼·g[2j−1] + ¾·g[2j] + ¾·g[2j+1] + ¼·g[2j+2] (g zero outside), a stride-2 convolution with the kernel
/// [¼, ¾, ¾, ¼] and padding 1, plus what the clamped reads send to the border: ¼·g[0] to x[0] and ¼·g[2n−1] to
/// x[n−1]. The two axes are separable: W first, then H, as depthwise convolutions.
/// </remarks>
public static class BilinearUpsample
{
    static volatile bool deterministic;
    static readonly FlowOverride forced = new();

    /// <summary>Whether the backward pass is the deterministic convolution (set by the trainer for <c>--deterministic</c>).</summary>
    public static bool Deterministic { get => deterministic; set => deterministic = value; }

    /// <summary>x upsampled ×2 in both spatial dimensions.</summary>
    public static Tensor Twice(Tensor x) =>
        (forced.Value ?? Deterministic) && x.requires_grad && is_grad_enabled()
            ? OutputTemplates.Drop(DeterministicTwice.apply(x))
            : F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false);

    /// <summary><paramref name="body"/>'s result with the calling flow's backward deterministic or not, whatever <see cref="Deterministic"/> says (tests).</summary>
    internal static T With<T>(bool deterministic, Func<T> body) => forced.With(deterministic, body);

    /// <summary>The gradient of <see cref="Twice"/>'s input from its output's gradient <paramref name="g"/> (B, C, 2H, 2W).</summary>
    public static Tensor Backward(Tensor g)
    {
        using var scope = NewDisposeScope();
        long channels = g.shape[1];
        // [¼, ¾, ¾, ¼] = 1 − ¼·|2i − 3|, made on the device: a host-to-device copy is not allowed during a CUDA
        // graph capture, where this backward also runs.
        var taps = 1 - 0.25 * (2 * arange(4, dtype: g.dtype, device: g.device) - 3).abs();
        var alongW = F.conv2d(g, taps.view(1, 1, 1, 4).expand(channels, 1, 1, 4).contiguous(), strides: [1, 2], padding: [0, 1], groups: channels);
        AddBorders(alongW, g, 3);
        var both = F.conv2d(alongW, taps.view(1, 1, 4, 1).expand(channels, 1, 4, 1).contiguous(), strides: [2, 1], padding: [1, 0], groups: channels);
        AddBorders(both, alongW, 2);
        return both.MoveToOuterDisposeScope();
    }

    /// <summary>The clamped reads: ¼ of the first and last output gradient along <paramref name="dim"/> go to the first and last input.</summary>
    static void AddBorders(Tensor result, Tensor g, long dim)
    {
        long n = result.shape[dim], m = g.shape[dim];
        result.narrow(dim, 0, 1).add_(g.narrow(dim, 0, 1), alpha: 0.25);
        result.narrow(dim, n - 1, 1).add_(g.narrow(dim, m - 1, 1), alpha: 0.25);
    }

    sealed class DeterministicTwice : autograd.SingleTensorFunction<DeterministicTwice>
    {
        public override string Name => "BilinearUpsample2x";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            HandedBackGradients.Release();
            OutputTemplates.Forward(ctx);
            return F.interpolate((Tensor)vars[0], scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var incoming = HandedBackGradients.Backward(gradOutput);
            if (gradOutput is null || gradOutput.IsInvalid) return [null!];
            var g = Backward(gradOutput).DetachFromDisposeScope();
            HandedBackGradients.Keep(g);
            return [g];
        }
    }
}
