using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>Where a KAonv's zero padding goes relative to ψ (docs/allukan.md §R.4, padding note).</summary>
public enum KaPadding
{
    /// <summary>[inferred, default] conv2d pads ψ(X): padded taps contribute 0, exactly as a Conv2d on ψ(X).</summary>
    AfterActivation,
    /// <summary>Pad X, then apply ψ: padded taps contribute λ·ψ(0), the convention of an unfold-first KAN convolution.</summary>
    BeforeActivation,
}

/// <summary>
/// KAonv, the Conv2d replacement of ALL U-KAN (arXiv 2602.03156; docs/allukan.md §R.4):
/// Y = conv2d(ψ(X), Λ, b, stride, padding, dilation, groups). ψ is applied once per input element before the
/// convolution, so every (out, in, tap) edge is ψ scaled by one λ. Parameters: those of the Conv2d it replaces
/// (<c>weight</c> = Λ of shape (out, in/groups, k, k), <c>bias</c>) plus ψ's (<c>act.*</c>, about 10).
/// </summary>
/// <remarks>
/// Deliberately not a subclass of nn.Conv2d: U-KAN's official <c>_init_weights</c> (<see cref="UKan.Models.OfficialInit"/>)
/// re-initialises Conv2d modules, and Λ keeps Conv2d's default initialisation instead [inferred, docs/allukan.md §R.3] unless
/// the ALL U-KAN option asks for the official one. Depthwise (groups = channels) and 1×1 KAonv are the same class.
/// </remarks>
public sealed class KaConv2d : nn.Module<Tensor, Tensor>, IMacCounter
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly SharedActivation act;

    public ConvGeometry Geometry { get; }
    public KaPadding PaddingMode { get; }

    /// <param name="activation">Options of this layer's own ψ (ignored when <paramref name="sharedActivation"/> is given).</param>
    /// <param name="sharedActivation">A ψ shared with other layers (docs/allukan.md §R.10) instead of an own one.</param>
    public KaConv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1,
        int groups = 1, bool hasBias = true, SharedActivationOptions? activation = null,
        KaPadding paddingMode = KaPadding.AfterActivation, SharedActivation? sharedActivation = null) : base(nameof(KaConv2d))
    {
        Geometry = new ConvGeometry(inChannels, outChannels, kernelSize, stride, padding, dilation, groups).Validated("KAonv");
        PaddingMode = paddingMode;
        act = sharedActivation ?? new SharedActivation(activation);
        weight = new Parameter(empty(outChannels, inChannels / groups, kernelSize, kernelSize));
        if (hasBias) bias = new Parameter(empty(outChannels));
        RegisterComponents();
        LayerInit.LikeTorch(weight, bias);
    }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public SharedActivation Activation => act;

    /// <summary>The convolution's MACs; ψ counts its own (it is a child module).</summary>
    public long CountMacs(Tensor input, Tensor output) => output.numel() * weight.shape[1] * weight.shape[2] * weight.shape[3];

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (stride, pad, dilation) = (Geometry.Stride, (long)Geometry.Padding, Geometry.Dilation);
        if (PaddingMode == KaPadding.BeforeActivation && pad > 0)
        {
            x = F.pad(x, [pad, pad, pad, pad]);
            pad = 0;
        }
        return F.conv2d(act.call(x), weight, bias, [stride, stride], [pad, pad], [dilation, dilation], Geometry.Groups)
            .MoveToOuterDisposeScope();
    }
}
