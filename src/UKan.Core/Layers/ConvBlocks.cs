using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The convolution stages of U-KAN's encoder and decoder (CUHK-AIM-Group/U-KAN <c>Seg_UKAN/archs.py</c>,
/// <c>ConvLayer</c> and <c>D_ConvLayer</c>): two 3×3 conv → BN → ReLU units in a Sequential named <c>conv</c>, so the
/// state-dict keys are <c>conv.0</c> (conv), <c>conv.1</c> (BN), <c>conv.3</c>, <c>conv.4</c> as in the reference.
/// The same unit is U-Net's double convolution (<c>conv_block</c> of Attention U-Net's reference; <c>DoubleConv</c> of
/// milesial/Pytorch-UNet, whose Sequential is named <c>double_conv</c>: the constructor's <c>key</c>).
/// </summary>
public sealed class DoubleConv : nn.Module<Tensor, Tensor>, IBatchNormFoldable
{
    private readonly Sequential conv;
    /// <summary>The same units with each conv → BN as one convolution, once folded for inference.</summary>
    private Sequential? folded;

    /// <param name="middle">Channels between the two convolutions: <c>out</c> for ConvLayer, <c>in</c> for D_ConvLayer.</param>
    /// <param name="relu">False puts identities where the ReLUs were (ALL U-KAN's drop-ReLU option); keys are unchanged.</param>
    /// <param name="key">The Sequential's state-dict name.</param>
    public DoubleConv(int inChannels, int middle, int outChannels, ConvFactory? factory = null, bool relu = true, string key = "conv")
        : base(nameof(DoubleConv))
    {
        factory ??= ConvFactories.Conv2d;
        conv = nn.Sequential(
            ("0", factory(inChannels, middle, 3, 1, 1, 1)),
            ("1", nn.BatchNorm2d(middle)),
            ("2", ConvFactories.Relu(relu)),
            ("3", factory(middle, outChannels, 3, 1, 1, 1)),
            ("4", nn.BatchNorm2d(outChannels)),
            ("5", ConvFactories.Relu(relu)));
        register_module(key, conv);
    }

    // The Sequential is registered under its key above; the field-name registration (which a parent's register_module
    // triggers) would add it a second time as "conv".
    protected override void RegisterComponents() { }

    /// <summary>ConvLayer(in, out): conv in→out, conv out→out (encoder).</summary>
    public static DoubleConv Encoder(int inChannels, int outChannels, ConvFactory? factory = null, bool relu = true, string key = "conv") =>
        new(inChannels, outChannels, outChannels, factory, relu, key);

    /// <summary>D_ConvLayer(in, out): conv in→in, conv in→out (decoder).</summary>
    public static DoubleConv Decoder(int inChannels, int outChannels, ConvFactory? factory = null, bool relu = true) => new(inChannels, inChannels, outChannels, factory, relu);

    public int FoldBatchNorm() => BatchNormFold.Once(conv, ref folded, m => register_module("folded", m));

    // Training leaves the convolutions' biases out (the batch norms remove them: ConvBatchNorm).
    public override Tensor forward(Tensor x) => ConvBatchNorm.Sequence(conv, folded, x);
}

/// <summary>
/// Makes the convolutions of a network: (in, out, kernel, stride, padding, groups) → a module with <c>weight</c> and
/// <c>bias</c>. U-KAN uses plain Conv2d; ALL U-KAN swaps in KAonv and the stacked-KAN baseline a KAN convolution,
/// all through this one seam so that the skeleton is written once.
/// </summary>
public delegate nn.Module<Tensor, Tensor> ConvFactory(int inChannels, int outChannels, int kernel, int stride, int padding, int groups);

/// <summary>Makes the token-wise linear maps (fc1..fc3 of a KAN block): (in, out) → module on (rows, in).</summary>
public delegate nn.Module<Tensor, Tensor> LinearFactory(int inFeatures, int outFeatures);

public static class ConvFactories
{
    /// <summary>nn.Conv2d with bias, as every convolution of U-KAN has.</summary>
    public static readonly ConvFactory Conv2d = (i, o, k, s, p, g) => nn.Conv2d(i, o, k, stride: s, padding: p, groups: g, bias: true);

    /// <summary>ReLU, or an identity in its place when a variant drops the skeleton's ReLUs.</summary>
    public static nn.Module<Tensor, Tensor> Relu(bool keep) => keep ? nn.ReLU() : nn.Identity();
}

/// <summary>
/// The shape of a 2-D convolution with a square kernel, shared by the layers that stand in for nn.Conv2d
/// (<see cref="KaConv2d"/>, <see cref="KanConv2d"/>).
/// </summary>
public readonly record struct ConvGeometry(int InChannels, int OutChannels, int KernelSize, int Stride = 1, int Padding = 0, int Dilation = 1, int Groups = 1)
{
    /// <summary>Throws unless the channels split into the groups (and the sizes are positive).</summary>
    public ConvGeometry Validated(string layer) =>
        Groups >= 1 && InChannels % Groups == 0 && OutChannels % Groups == 0 && KernelSize >= 1 && Stride >= 1 && Dilation >= 1 && Padding >= 0
            ? this
            : throw new ArgumentException($"{layer}: {InChannels} in and {OutChannels} out channels in {Groups} groups, kernel {KernelSize}, stride {Stride}, padding {Padding}, dilation {Dilation} is not a valid convolution");

    /// <summary>Output height or width for an input size, as Conv2d computes it.</summary>
    public long OutputSize(long size) => (size + 2L * Padding - (long)Dilation * (KernelSize - 1) - 1) / Stride + 1;
}
