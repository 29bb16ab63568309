using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Models;

/// <summary>
/// Attention U-Net: "Attention U-Net: Learning Where to Look for the Pancreas", Oktay et al., MIDL 2018
/// (arXiv 1804.03999), as class <c>AttU_Net</c> of LeeJunHyun/Image_Segmentation <c>network.py</c>
/// @ 7a6e5f92f623eb74e0316716e3f5f9f919cb4eaf, the PyTorch version whose size U-KAN's Table 1 gives (34.9 M):
/// 34,878,573 parameters for 3 inputs and 1 class.
/// </summary>
/// <remarks>
/// U-Net's encoder (double convs, widths 64-128-256-512-1024, max-pool); each decoder step upsamples (nearest ×2,
/// 3×3 conv → BN → ReLU, <see cref="UpConv"/>), gates the skip with an additive attention gate driven by the upsampled
/// decoder features (<see cref="AttentionGate"/>, F_int = half the skip's channels), concatenates [gated skip, decoder]
/// and runs a double conv; a 1×1 conv gives logits. Keys are the reference's (<c>Conv1.conv.0</c>, <c>Up5.up.1</c>,
/// <c>Att5.W_g.0</c>, <c>Up_conv5.conv.0</c>, <c>Conv_1x1</c>). Departures from the reference:
/// <list type="bullet">
/// <item>The width is an option (<see cref="ConvUNetOptions"/>; 64 by default), for small test models.</item>
/// <item>PyTorch's default initialisation, as U-KAN's training script leaves it (the reference's <c>init_weights</c>
/// helper is not called by its own solver either).</item>
/// <item>The paper's gate takes g from the coarser scale and resamples α; the reference (and this) gates at the skip's
/// scale after upsampling, and has no deep supervision.</item>
/// <item>Training runs each convolution that feeds a BatchNorm2d without its bias (<see cref="ConvBatchNorm"/>, docs/models.md):
/// the same function, but those biases get no gradient instead of rounding noise; on CUDA by default (<c>UKAN_BIAS_BEFORE_BN=official</c> adds them; <c>=dropped</c> also on the CPU).</item>
/// </list>
/// </remarks>
public sealed class AttUNet : nn.Module<Tensor, Tensor>, ISegmentationModel
{
    private readonly DoubleConv Conv1, Conv2, Conv3, Conv4, Conv5;
    private readonly UpConv Up5, Up4, Up3, Up2;
    private readonly AttentionGate Att5, Att4, Att3, Att2;
    private readonly DoubleConv Up_conv5, Up_conv4, Up_conv3, Up_conv2;
    private readonly Conv2d Conv_1x1;

    public ModelSpec Spec { get; }

    public AttUNet(ModelSpec spec) : base(nameof(AttUNet))
    {
        Spec = spec;
        int w = ConvUNetOptions.WidthOf(spec);
        Conv1 = DoubleConv.Encoder(spec.InChannels, w);
        Conv2 = DoubleConv.Encoder(w, 2 * w);
        Conv3 = DoubleConv.Encoder(2 * w, 4 * w);
        Conv4 = DoubleConv.Encoder(4 * w, 8 * w);
        Conv5 = DoubleConv.Encoder(8 * w, 16 * w);
        (Up5, Att5, Up_conv5) = Decoder(16 * w);
        (Up4, Att4, Up_conv4) = Decoder(8 * w);
        (Up3, Att3, Up_conv3) = Decoder(4 * w);
        (Up2, Att2, Up_conv2) = Decoder(2 * w);
        Conv_1x1 = nn.Conv2d(w, spec.NumClasses, 1, bias: true);
        RegisterComponents();
    }

    /// <summary>One decoder step from <paramref name="channels"/> to half as many.</summary>
    static (UpConv, AttentionGate, DoubleConv) Decoder(int channels) =>
        (new UpConv(channels, channels / 2), new AttentionGate(channels / 2, channels / 2, channels / 4), DoubleConv.Encoder(channels, channels / 2));

    public override Tensor forward(Tensor x)
    {
        SegmentationInput.Require(x, UNet.SizeMultiple, "Attention U-Net");
        using var scope = NewDisposeScope();
        var x1 = Conv1.call(x);
        var x2 = Conv2.call(F.max_pool2d(x1, 2, 2));
        var x3 = Conv3.call(F.max_pool2d(x2, 2, 2));
        var x4 = Conv4.call(F.max_pool2d(x3, 2, 2));
        var d = Conv5.call(F.max_pool2d(x4, 2, 2));
        d = Step(Up5, Att5, Up_conv5, d, x4);
        d = Step(Up4, Att4, Up_conv4, d, x3);
        d = Step(Up3, Att3, Up_conv3, d, x2);
        d = Step(Up2, Att2, Up_conv2, d, x1);
        return Conv_1x1.call(d).MoveToOuterDisposeScope();
    }

    static Tensor Step(UpConv up, AttentionGate gate, DoubleConv conv, Tensor d, Tensor skip)
    {
        var g = up.call(d);
        return conv.call(cat([gate.call(g, skip), g], 1));
    }
}
