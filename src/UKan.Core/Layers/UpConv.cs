using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Attention U-Net's up-sampling step (<c>up_conv</c> of LeeJunHyun/Image_Segmentation <c>network.py</c>): nearest ×2,
/// then 3×3 conv → BN → ReLU, in a Sequential named <c>up</c> (keys <c>up.1</c> conv, <c>up.2</c> BN, as the reference).
/// </summary>
public sealed class UpConv : nn.Module<Tensor, Tensor>, IBatchNormFoldable
{
    private readonly Sequential up;
    private Sequential? folded;

    public UpConv(int inChannels, int outChannels) : base(nameof(UpConv))
    {
        up = nn.Sequential(
            ("0", nn.Upsample(scale_factor: [2.0, 2.0], mode: UpsampleMode.Nearest)),
            ("1", nn.Conv2d(inChannels, outChannels, 3, padding: 1, bias: true)),
            ("2", nn.BatchNorm2d(outChannels)),
            ("3", nn.ReLU()));
        RegisterComponents();
    }

    public int FoldBatchNorm() => BatchNormFold.Once(up, ref folded, m => register_module("folded", m));

    public override Tensor forward(Tensor x) => ConvBatchNorm.Sequence(up, folded, x);
}
