using TorchSharp;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Evaluation;

/// <summary>
/// Model outputs as one binary problem per scored class, so that every binary metric (confusion counts, IoU, Dice,
/// HD95, the official batch-pooled scores) applies per class unchanged. BCE + Dice: each output channel against its
/// mask. CE + Dice: the predicted class is the argmax of the logits; class c (1..C−1, background not scored) is
/// predicted where the argmax is c, given as a pseudo-logit +1 there and −1 elsewhere (so that "logit &gt; 0" reads it),
/// against the one-hot target channel c.
/// </summary>
public static class ClassMasks
{
    /// <summary>Per scored class: (B,1,H,W) logits (&gt; 0 = predicted) and (B,1,H,W) target.</summary>
    public static IReadOnlyList<(Tensor Logits, Tensor Target)> Split(Tensor logits, Tensor target, SegmentationLoss loss)
    {
        long classes = logits.shape[1];
        if (loss == SegmentationLoss.BceDice)
            return Enumerable.Range(0, (int)classes).Select(c => (logits.narrow(1, c, 1), target.narrow(1, c, 1))).ToList();
        var predicted = logits.detach().argmax(1, keepdim: true);
        return Enumerable.Range(1, (int)classes - 1)
            .Select(c => (predicted.eq(c).to(ScalarType.Float32) * 2 - 1, target.narrow(1, c, 1)))
            .ToList();
    }

    /// <summary>Class indices (B, H, W) as uint8: argmax for softmax outputs.</summary>
    public static Tensor Labels(Tensor logits) => logits.detach().argmax(1).to(ScalarType.Byte);
}
