using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Losses;

/// <summary>
/// U-KAN's segmentation loss (CUHK-AIM-Group/U-KAN <c>Seg_UKAN/losses.py</c>, <c>BCEDiceLoss</c>):
/// 0.5·BCE-with-logits (mean over all elements) + 1 − mean_b[(2·Σ p·t + s)/(Σ p + Σ t + s)], p = σ(logits),
/// sums per sample over C·H·W, smoothing s = 1e-5. On CUDA it runs as one fused node (<see cref="FusedBceDice"/>).
/// </summary>
public sealed class BceDiceLoss : nn.Module<Tensor, Tensor, Tensor>
{
    public const double Smooth = 1e-5;
    public double BceWeight { get; }

    public BceDiceLoss(double bceWeight = 0.5) : base(nameof(BceDiceLoss)) => BceWeight = bceWeight;

    public override Tensor forward(Tensor logits, Tensor target)
    {
        using var scope = NewDisposeScope();
        // In fp32 whatever precision produced the logits (bf16 autocast): the Dice sums and the loss need its range.
        if (logits.dtype != target.dtype) logits = logits.to(target.dtype);
        if (FusedBceDice.KernelsFor(logits, target) is { } kernels)
            return FusedBceDice.Apply(logits, target, BceWeight, kernels).MoveToOuterDisposeScope();
        return Formula(logits, target, BceWeight, Smooth).Loss.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The loss in torch operations (autograd differentiates it), and each image's sums Σ p·t, Σ p, Σ t (N × 3) that
    /// the Dice term is made of: the module's formula where the fused node does not run, and its forward's reference.
    /// </summary>
    public static (Tensor Loss, Tensor Sums) Formula(Tensor logits, Tensor target, double bceWeight, double smooth)
    {
        var bce = F.binary_cross_entropy_with_logits(logits, target);
        long n = logits.shape[0];
        var p = logits.sigmoid().reshape(n, -1);
        var t = target.reshape(n, -1);
        var sums = stack([(p * t).sum(1), p.sum(1), t.sum(1)], 1);
        var dice = (2 * sums[.., 0] + smooth) / (sums[.., 1] + sums[.., 2] + smooth);
        return (bceWeight * bce + (1 - dice.sum() / n), sums);
    }
}
