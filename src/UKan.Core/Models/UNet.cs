using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>
/// U-Net: "U-Net: Convolutional Networks for Biomedical Image Segmentation", Ronneberger, Fischer and Brox, MICCAI 2015
/// (arXiv 1505.04597), in the PyTorch form U-KAN's Table 1 counts (31.04 M parameters): class <c>UNet</c> with
/// <c>bilinear=False</c> of milesial/Pytorch-UNet <c>unet/unet_model.py</c> and <c>unet/unet_parts.py</c>
/// @ 07debeb9f2621b53ed513e5ab8a0307b4da57767. 31,043,521 parameters for 3 inputs and 1 class.
/// </summary>
/// <remarks>
/// Four stages of (3×3 conv → BN → ReLU) × 2 with max-pool halvings, widths 64-128-256-512-1024; the decoder upsamples
/// with 2×2 transposed convolutions (stride 2), concatenates the skip and runs a double conv; a 1×1 conv gives logits.
/// State-dict keys are the reference's (<c>inc.double_conv.0</c>, <c>down1.maxpool_conv.1.double_conv.0</c>,
/// <c>up1.up</c>, <c>up1.conv.double_conv.0</c>, <c>outc.conv</c>), so its weights load as they are.
/// Departures from the reference:
/// <list type="bullet">
/// <item>The width is an option (<see cref="ConvUNetOptions"/>; 64 by default), for small test models.</item>
/// <item>Inputs must be multiples of 16; the reference pads the upsampled map when sizes are odd, which never happens then.</item>
/// <item>The original paper's unpadded convolutions and cropping are not used (nor by the reference): outputs have the input's size.</item>
/// <item>Training runs each convolution that feeds a BatchNorm2d without its bias (<see cref="ConvBatchNorm"/>, docs/models.md):
/// the same function, but those biases get no gradient instead of rounding noise; on CUDA by default (<c>UKAN_BIAS_BEFORE_BN=official</c> adds them; <c>=dropped</c> also on the CPU).</item>
/// </list>
/// </remarks>
public sealed class UNet : nn.Module<Tensor, Tensor>, ISegmentationModel
{
    /// <summary>Four halvings.</summary>
    public const int SizeMultiple = 16;
    const string Key = "double_conv";

    private readonly DoubleConv inc;
    private readonly Sequential down1, down2, down3, down4;
    private readonly Up up1, up2, up3, up4;
    private readonly Sequential outc;

    public ModelSpec Spec { get; }

    public UNet(ModelSpec spec) : base(nameof(UNet))
    {
        Spec = spec;
        int w = ConvUNetOptions.WidthOf(spec);
        inc = DoubleConv.Encoder(spec.InChannels, w, key: Key);
        down1 = Down(w, 2 * w);
        down2 = Down(2 * w, 4 * w);
        down3 = Down(4 * w, 8 * w);
        down4 = Down(8 * w, 16 * w);
        up1 = new Up(16 * w, 8 * w);
        up2 = new Up(8 * w, 4 * w);
        up3 = new Up(4 * w, 2 * w);
        up4 = new Up(2 * w, w);
        outc = nn.Sequential(("conv", nn.Conv2d(w, spec.NumClasses, 1, bias: true)));
        RegisterComponents();
    }

    /// <summary>Max-pool, then a double conv (the reference's <c>Down</c>: a Sequential named <c>maxpool_conv</c>).</summary>
    static Sequential Down(int inChannels, int outChannels) =>
        nn.Sequential(("maxpool_conv", nn.Sequential(("0", nn.MaxPool2d(2)), ("1", DoubleConv.Encoder(inChannels, outChannels, key: Key)))));

    public override Tensor forward(Tensor x)
    {
        SegmentationInput.Require(x, SizeMultiple, "U-Net");
        using var scope = NewDisposeScope();
        var x1 = inc.call(x);
        var x2 = down1.call(x1);
        var x3 = down2.call(x2);
        var x4 = down3.call(x3);
        var d = down4.call(x4);
        d = up1.call(d, x4);
        d = up2.call(d, x3);
        d = up3.call(d, x2);
        d = up4.call(d, x1);
        return outc.call(d).MoveToOuterDisposeScope();
    }

    /// <summary>The reference's <c>Up</c> without bilinear: 2×2 transposed conv halving the channels, concatenate [skip, up], double conv.</summary>
    sealed class Up : nn.Module<Tensor, Tensor, Tensor>
    {
        private readonly ConvTranspose2d up;
        private readonly DoubleConv conv;

        public Up(int inChannels, int outChannels) : base(nameof(Up))
        {
            up = nn.ConvTranspose2d(inChannels, inChannels / 2, 2, stride: 2, bias: true);
            conv = DoubleConv.Encoder(inChannels, outChannels, key: Key);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x, Tensor skip) => conv.call(cat([skip, up.call(x)], 1));
    }
}
