namespace UKan.Evaluation;

/// <summary>
/// Scores of one image computed the <c>per-image</c> way. <see cref="Batch"/> is the index of the batch it came in
/// (set by <see cref="SegmentationMeter"/>, -1 otherwise). HD95 is NaN when it was not computed.
/// </summary>
public sealed record ImageMetrics(string Id, ConfusionCounts Counts, EmptyCase EmptyCase, double Iou, double Dice, double Hd95,
    double Precision, double Recall, double Specificity)
{
    public int Batch { get; init; } = -1;
    public long TargetPixels => Counts.TargetPositive;
    public long PredictedPixels => Counts.PredictedPositive;
}

/// <summary>
/// The <c>per-image</c> way: every score on one H×W image with exact (unsmoothed) ratios; 0/0 and HD95 of empty
/// masks are settled by <see cref="EmptyMaskRule"/>. HD95 is computed in 2-D on contours: surface = mask XOR
/// erosion(mask, 2-D cross, border 0), distances by the exact 2-D EDT between the two surfaces (with pixel
/// spacing), 95th percentile (numpy linear) of the union of both directed sets.
/// </summary>
public static class PerImageMetrics
{
    public static ImageMetrics Compute(string id, ReadOnlySpan<bool> prediction, ReadOnlySpan<bool> target,
        int height, int width, PixelSpacing spacing, bool hd95 = true)
    {
        if (prediction.Length != height * width || target.Length != height * width)
            throw new ArgumentException($"image {height}x{width} needs {height * width} pixels, got prediction {prediction.Length} and target {target.Length}");
        var c = ConfusionCounts.Count(prediction, target);
        var empty = EmptyMaskRule.Classify(c);
        double hd = !hd95 ? double.NaN
            : empty == EmptyCase.None ? ContourHd95(prediction, target, height, width, spacing)
            : EmptyMaskRule.Hd95(empty, height, width, spacing);
        return FromCounts(id, c, hd);
    }

    /// <summary>The scores that need only the counts (everything but HD95, given as <paramref name="hd95"/>).</summary>
    public static ImageMetrics FromCounts(string id, ConfusionCounts c, double hd95 = double.NaN)
    {
        var empty = EmptyMaskRule.Classify(c);
        double undefined = EmptyMaskRule.UndefinedRatio(c);
        return new ImageMetrics(id, c, empty,
            SegmentationScores.Iou(c, 0, undefined),
            SegmentationScores.Dice(c, 0, undefined),
            hd95,
            SegmentationScores.Precision(c, 0, undefined),
            SegmentationScores.Recall(c, 0, undefined),
            SegmentationScores.Specificity(c, 0, undefined));
    }

    /// <summary>2-D contour HD95 of two non-empty masks.</summary>
    public static double ContourHd95(ReadOnlySpan<bool> prediction, ReadOnlySpan<bool> target, int height, int width, PixelSpacing spacing) =>
        Hausdorff.Hd95(prediction, target, [height, width], [spacing.Row, spacing.Column])
        ?? throw new ArgumentException("contour HD95 needs two non-empty masks; empty ones go through EmptyMaskRule");
}
