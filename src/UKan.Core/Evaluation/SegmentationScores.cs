namespace UKan.Evaluation;

/// <summary>
/// The overlap scores as small pure functions of <see cref="ConfusionCounts"/>. Every score is a ratio
/// (numerator + smooth) / (denominator + smooth), and the caller states both the smoothing and the value to use
/// when the ratio is 0/0, because the two ways of computing metrics differ exactly there:
/// <list type="bullet">
/// <item><c>official</c> IoU: smooth = <see cref="OfficialSmooth"/> (1e-5) on numerator and denominator, as
/// upstream <c>iou_score</c> does; Dice is then <see cref="DiceFromIou"/> of that IoU, never computed separately.
/// Official precision / recall / specificity: smooth = 0 and 0/0 → 0, as medpy's functions that upstream
/// <c>indicators()</c> calls on the whole batch.</item>
/// <item><c>per-image</c>: smooth = 0 (exact ratios), and 0/0 is settled by <see cref="EmptyMaskRule"/>.</item>
/// </list>
/// </summary>
public static class SegmentationScores
{
    /// <summary>The smoothing constant of upstream <c>iou_score</c> (metrics.py): (|P∧T| + 1e-5) / (|P∨T| + 1e-5).</summary>
    public const double OfficialSmooth = 1e-5;

    /// <summary>IoU (Jaccard) = |P∧T| / |P∨T| = TP / (TP + FP + FN).</summary>
    public static double Iou(ConfusionCounts c, double smooth, double whenUndefined) =>
        Ratio(c.TruePositive, c.Union, smooth, whenUndefined);

    /// <summary>Dice (F1) = 2|P∧T| / (|P| + |T|) = 2TP / (2TP + FP + FN).</summary>
    public static double Dice(ConfusionCounts c, double smooth, double whenUndefined) =>
        Ratio(2 * c.TruePositive, 2 * c.TruePositive + c.FalsePositive + c.FalseNegative, smooth, whenUndefined);

    /// <summary>Dice from IoU, D = 2J / (J + 1); exact for unsmoothed counts, and the upstream definition of Dice.</summary>
    public static double DiceFromIou(double iou) => 2 * iou / (iou + 1);

    /// <summary>Precision (positive predictive value) = TP / (TP + FP); undefined when the prediction is empty.</summary>
    public static double Precision(ConfusionCounts c, double smooth, double whenUndefined) =>
        Ratio(c.TruePositive, c.PredictedPositive, smooth, whenUndefined);

    /// <summary>Recall (sensitivity, true positive rate) = TP / (TP + FN); undefined when the target is empty.</summary>
    public static double Recall(ConfusionCounts c, double smooth, double whenUndefined) =>
        Ratio(c.TruePositive, c.TargetPositive, smooth, whenUndefined);

    /// <summary>Specificity (true negative rate) = TN / (TN + FP); undefined when the target is all foreground.</summary>
    public static double Specificity(ConfusionCounts c, double smooth, double whenUndefined) =>
        Ratio(c.TrueNegative, c.TrueNegative + c.FalsePositive, smooth, whenUndefined);

    /// <summary>
    /// (numerator + smooth) / (denominator + smooth), in double as numpy computes it from integer counts;
    /// <paramref name="whenUndefined"/> when that is 0/0 (only possible with smooth = 0).
    /// </summary>
    public static double Ratio(long numerator, long denominator, double smooth, double whenUndefined) =>
        denominator == 0 && smooth == 0 ? whenUndefined : (numerator + smooth) / (denominator + smooth);
}
