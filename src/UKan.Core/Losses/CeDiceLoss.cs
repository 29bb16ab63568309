using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Losses;

/// <summary>
/// Loss for mutually exclusive classes (softmax), the multi-class counterpart of <see cref="BceDiceLoss"/> with the
/// same weights: 0.5·CE + (1 − mean_{c=1..C−1} Dice_c).
/// <list type="bullet">
/// <item>CE: cross-entropy of softmax(logits) against the one-hot target, mean over all pixels of the batch.</item>
/// <item>Dice_c = (2·Σ p_c·t_c + s) / (Σ p_c + Σ t_c + s), p = softmax(logits), the sums over every pixel of the
/// whole batch (a batch Dice, as nnU-Net's <c>batch_dice</c>): a class absent from one image does not count as a
/// failure of that image; s = 1e-5 as in BCE + Dice.</item>
/// <item>The mean is over the foreground classes 1..C−1, not the background: the background covers most pixels, its
/// Dice is near 1 from the first epoch and would only dilute the foreground's signal (nnU-Net's default
/// <c>do_bg=False</c>; Isensee et al., Nat. Methods 18:203, 2021). With C = 2 this is the binary Dice of the
/// foreground channel.</item>
/// </list>
/// Targets are one-hot (B, C, H, W), as the data pipeline builds them from label maps.
/// </summary>
public sealed class CeDiceLoss : nn.Module<Tensor, Tensor, Tensor>
{
    public double CeWeight { get; }

    public CeDiceLoss(double ceWeight = 0.5) : base(nameof(CeDiceLoss)) => CeWeight = ceWeight;

    public override Tensor forward(Tensor logits, Tensor target)
    {
        using var scope = NewDisposeScope();
        if (logits.dtype != target.dtype) logits = logits.to(target.dtype);
        var logP = F.log_softmax(logits, 1);
        var ce = -(target * logP).sum(1).mean();
        var p = logP.exp();
        long classes = logits.shape[1];
        var pf = p.narrow(1, 1, classes - 1);
        var tf = target.narrow(1, 1, classes - 1);
        long[] pixels = [0, 2, 3];
        var dice = (2 * (pf * tf).sum(pixels) + BceDiceLoss.Smooth) / (pf.sum(pixels) + tf.sum(pixels) + BceDiceLoss.Smooth);
        return (CeWeight * ce + (1 - dice.mean())).MoveToOuterDisposeScope();
    }
}
