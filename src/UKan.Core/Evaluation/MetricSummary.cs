namespace UKan.Evaluation;

/// <summary>The two named ways of computing segmentation metrics; see docs/metrics.md.</summary>
public enum MetricWay
{
    /// <summary>"official": pooled per batch, batch-size-weighted mean over batches (upstream U-KAN).</summary>
    Official,
    /// <summary>"per-image": per image, then mean (and std, median) over images.</summary>
    PerImage,
}

public static class MetricWays
{
    public static string Name(MetricWay way) => way switch
    {
        MetricWay.Official => "official",
        MetricWay.PerImage => "per-image",
        _ => throw new ArgumentOutOfRangeException(nameof(way)),
    };

    public static MetricWay Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "official" => MetricWay.Official,
        "per-image" or "perimage" or "per_image" => MetricWay.PerImage,
        _ => throw new UserError($"unknown metric way '{name}': use 'official' (comparable with the paper) or 'per-image'"),
    };
}

/// <summary>Mean, population standard deviation (numpy's default ddof = 0) and median (numpy's: mean of the two middle values); NaN when there are no values.</summary>
public readonly record struct MetricStatistics(double Mean, double Std, double Median, int Count)
{
    public static MetricStatistics Of(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length == 0) return new MetricStatistics(double.NaN, double.NaN, double.NaN, 0);
        double mean = v.Sum() / v.Length;
        double squares = 0;
        foreach (var x in v) squares += (x - mean) * (x - mean);
        Array.Sort(v);
        int mid = v.Length / 2;
        double median = v.Length % 2 == 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
        return new MetricStatistics(mean, Math.Sqrt(squares / v.Length), median, v.Length);
    }
}

/// <summary>
/// The <c>per-image</c> summary over all images. HD95 statistics include the images scored by
/// <see cref="EmptyMaskRule"/> (0 or the diagonal); <see cref="Hd95BothNonEmpty"/> is over the measured ones only.
/// </summary>
public sealed record PerImageSummary(int Images, int BothEmpty, int PredictionEmpty, int TargetEmpty,
    MetricStatistics Iou, MetricStatistics Dice, MetricStatistics Hd95, MetricStatistics Hd95BothNonEmpty,
    MetricStatistics Precision, MetricStatistics Recall, MetricStatistics Specificity);

/// <summary>The <c>official</c> summary: per-batch scores averaged with batch-size weights (upstream AverageMeter).</summary>
public sealed record OfficialSummary(int Images, int Batches, double Iou, double Dice, double Hd95,
    double Precision, double Recall, double Specificity);

/// <summary>Both ways side by side.</summary>
public sealed record SegmentationSummary(OfficialSummary Official, PerImageSummary PerImage)
{
    /// <summary>IoU, Dice and HD95 of the chosen way (for per-image: the means).</summary>
    public (double Iou, double Dice, double Hd95) Headline(MetricWay way) => way switch
    {
        MetricWay.Official => (Official.Iou, Official.Dice, Official.Hd95),
        MetricWay.PerImage => (PerImage.Iou.Mean, PerImage.Dice.Mean, PerImage.Hd95.Mean),
        _ => throw new ArgumentOutOfRangeException(nameof(way)),
    };
}
