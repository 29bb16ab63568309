using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The additive attention gate of Attention U-Net (Oktay et al., 2018, §2, Fig. 2), as <c>Attention_block</c> of
/// LeeJunHyun/Image_Segmentation <c>network.py</c> builds it: α = σ(BN(ψ(ReLU(BN(W_g g) + BN(W_x x))))) with 1×1
/// convolutions W_g, W_x (to F_int channels) and ψ (to one channel); the skip features x are scaled by α. The gating
/// signal g comes from the decoder at the same resolution as x (the reference upsamples before gating, so no resampling of
/// α is needed). Keys <c>W_g.0</c>, <c>W_g.1</c>, <c>W_x.*</c>, <c>psi.0</c>, <c>psi.1</c> as the reference.
/// </summary>
public sealed class AttentionGate : nn.Module<Tensor, Tensor, Tensor>, IBatchNormFoldable
{
    private readonly Sequential W_g, W_x, psi;
    private Sequential? foldedG, foldedX, foldedPsi;

    public AttentionGate(int gateChannels, int skipChannels, int innerChannels) : base(nameof(AttentionGate))
    {
        W_g = nn.Sequential(("0", nn.Conv2d(gateChannels, innerChannels, 1, bias: true)), ("1", nn.BatchNorm2d(innerChannels)));
        W_x = nn.Sequential(("0", nn.Conv2d(skipChannels, innerChannels, 1, bias: true)), ("1", nn.BatchNorm2d(innerChannels)));
        psi = nn.Sequential(("0", nn.Conv2d(innerChannels, 1, 1, bias: true)), ("1", nn.BatchNorm2d(1)), ("2", nn.Sigmoid()));
        RegisterComponents();
    }

    public int FoldBatchNorm() =>
        BatchNormFold.Once(W_g, ref foldedG, m => register_module("W_g_folded", m))
        + BatchNormFold.Once(W_x, ref foldedX, m => register_module("W_x_folded", m))
        + BatchNormFold.Once(psi, ref foldedPsi, m => register_module("psi_folded", m));

    /// <param name="g">The gating signal (decoder features).</param>
    /// <param name="x">The skip features to be gated.</param>
    public override Tensor forward(Tensor g, Tensor x) =>
        x * ConvBatchNorm.Sequence(psi, foldedPsi,
            (ConvBatchNorm.Sequence(W_g, foldedG, g) + ConvBatchNorm.Sequence(W_x, foldedX, x)).relu());
}
