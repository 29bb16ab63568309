namespace UKan.Evaluation;

/// <summary>Which of an image's two masks (prediction, target) are empty.</summary>
public enum EmptyCase
{
    /// <summary>Both masks have foreground: every metric is defined.</summary>
    None,
    /// <summary>Neither mask has foreground: a correct "nothing here".</summary>
    BothEmpty,
    /// <summary>The target has foreground, the prediction has none: a missed object.</summary>
    PredictionEmpty,
    /// <summary>The prediction has foreground, the target has none: a false detection.</summary>
    TargetEmpty,
}

/// <summary>
/// THE rule for the <c>per-image</c> way when a mask is empty (the <c>official</c> way does not use it). It is the
/// only place that decides these values:
/// <list type="bullet">
/// <item>both empty (<see cref="EmptyCase.BothEmpty"/>): IoU = Dice = 1 and HD95 = 0 — the prediction is perfect;</item>
/// <item>exactly one empty (<see cref="EmptyCase.PredictionEmpty"/>, <see cref="EmptyCase.TargetEmpty"/>): IoU = Dice = 0
/// (this follows from the counts) and HD95 = the image diagonal √((H·row spacing)² + (W·column spacing)²), which is
/// larger than any HD95 two non-empty masks can have, so a missed or invented object scores worst;</item>
/// <item>any other 0/0 ratio (precision with an empty prediction, recall with an empty target, specificity with an
/// all-foreground target): 1 when the prediction equals the target (nothing could be got wrong), else 0.</item>
/// </list>
/// The meter counts the images of each <see cref="EmptyCase"/> so that a summary shows how many scores came from
/// this rule rather than from a measurement.
/// </summary>
public static class EmptyMaskRule
{
    public static EmptyCase Classify(ConfusionCounts c) => (c.PredictedPositive == 0, c.TargetPositive == 0) switch
    {
        (true, true) => EmptyCase.BothEmpty,
        (true, false) => EmptyCase.PredictionEmpty,
        (false, true) => EmptyCase.TargetEmpty,
        _ => EmptyCase.None,
    };

    /// <summary>The value of a per-image ratio that is 0/0: 1 if the prediction is exact, else 0.</summary>
    public static double UndefinedRatio(ConfusionCounts c) => c.IsExact ? 1.0 : 0.0;

    /// <summary>HD95 of an image with an empty mask; only for <see cref="EmptyCase"/> other than None.</summary>
    public static double Hd95(EmptyCase emptyCase, int height, int width, PixelSpacing spacing) => emptyCase switch
    {
        EmptyCase.BothEmpty => 0.0,
        EmptyCase.PredictionEmpty or EmptyCase.TargetEmpty => Diagonal(height, width, spacing),
        _ => throw new ArgumentException("both masks have foreground: HD95 is measured, not set by the empty-mask rule"),
    };

    /// <summary>The image diagonal in spacing units: √((H·row spacing)² + (W·column spacing)²).</summary>
    public static double Diagonal(int height, int width, PixelSpacing spacing) =>
        Math.Sqrt(Square(height * spacing.Row) + Square(width * spacing.Column));

    static double Square(double x) => x * x;
}
