namespace UKan.Evaluation;

/// <summary>
/// Scores of one batch computed the <c>official</c> way (all pixels of the batch pooled), plus the batch size that
/// weights it in the average over batches.
/// </summary>
public sealed record OfficialBatchMetrics(int Size, ConfusionCounts Counts, double Iou, double Dice, double Hd95,
    double Precision, double Recall, double Specificity);

/// <summary>
/// The <c>official</c> way: what upstream U-KAN (Seg_UKAN/metrics.py <c>iou_score</c>, val.py) computes, so that our
/// numbers compare with the paper's. Per batch (batch of 8 as the loader yields them, the last may be smaller):
/// <list type="bullet">
/// <item>IoU = (|P∧T| + 1e-5) / (|P∨T| + 1e-5) over ALL pixels of the batch;</item>
/// <item>Dice = 2·IoU / (IoU + 1) from that pooled IoU;</item>
/// <item>HD95 = medpy <c>hd95</c> of the whole (B,1,H,W) batch as ONE 4-D volume: the 4-D cross erosion erodes
/// everything along the length-1 channel axis, so the "surface" is the whole foreground and distances are
/// Euclidean in (b, h, w) with the batch axis a spatial axis of spacing 1; 0 when either set is empty (upstream
/// catches medpy's exception);</item>
/// <item>precision / recall / specificity: the pooled counts with medpy's definitions (no smoothing, 0/0 → 0), as
/// upstream <c>indicators()</c> computes them — only during training, where it discards them, so there is no
/// published value to compare with.</item>
/// </list>
/// The per-batch values are then averaged weighted by batch size (<see cref="SegmentationMeter"/>). All of this
/// depends on how images are grouped into batches (github.com/loli/medpy, #132); see docs/metrics.md.
/// </summary>
public static class OfficialMetrics
{
    /// <summary>Scores of one batch; <paramref name="hd95"/> false skips the (costly) HD95 and leaves it NaN.</summary>
    public static OfficialBatchMetrics Compute(ReadOnlySpan<bool> prediction, ReadOnlySpan<bool> target, BatchShape shape, bool hd95 = true)
    {
        CheckLength(prediction, target, shape);
        return FromCounts(ConfusionCounts.Count(prediction, target), shape.Count, hd95 ? Hd95(prediction, target, shape) : double.NaN);
    }

    /// <summary>Scores of a batch of <paramref name="size"/> images from its pooled counts and its HD95.</summary>
    public static OfficialBatchMetrics FromCounts(ConfusionCounts pooled, int size, double hd95)
    {
        double iou = SegmentationScores.Iou(pooled, SegmentationScores.OfficialSmooth, double.NaN);
        return new OfficialBatchMetrics(size, pooled, iou, SegmentationScores.DiceFromIou(iou), hd95,
            SegmentationScores.Precision(pooled, 0, MedpyZeroDivision),
            SegmentationScores.Recall(pooled, 0, MedpyZeroDivision),
            SegmentationScores.Specificity(pooled, 0, MedpyZeroDivision));
    }

    /// <summary>medpy's precision, recall and specificity return 0 when their denominator is 0.</summary>
    public const double MedpyZeroDivision = 0.0;

    /// <summary>HD95 of the batch as one (B,1,H,W) volume with unit spacing; 0 when P or T is empty.</summary>
    public static double Hd95(ReadOnlySpan<bool> prediction, ReadOnlySpan<bool> target, BatchShape shape)
    {
        CheckLength(prediction, target, shape);
        return Hausdorff.Hd95(prediction, target, [shape.Count, 1, shape.Height, shape.Width], [1.0, 1.0, 1.0, 1.0]) ?? 0.0;
    }

    internal static void CheckLength(ReadOnlySpan<bool> prediction, ReadOnlySpan<bool> target, BatchShape shape)
    {
        if (prediction.Length != shape.Pixels || target.Length != shape.Pixels)
            throw new ArgumentException($"batch {shape} needs {shape.Pixels} pixels, got prediction {prediction.Length} and target {target.Length}");
    }
}
