using UKan.Evaluation;
using static UKan.Tests.Evaluation.MetricReferences;

namespace UKan.Tests.Evaluation;

/// <summary>Our metrics against the scipy/numpy reference values of Fixtures/metric_references.json.</summary>
public class ReferenceTests
{
    /// <summary>HD95 goes through the same arithmetic (exact squared distances, one sqrt, numpy's lerp).</summary>
    const double Hd95Tolerance = 1e-9;
    /// <summary>Ratios of integer counts are computed exactly as numpy does; allow only rounding of means.</summary>
    const double RatioTolerance = 1e-12;

    public static TheoryData<string> CaseNames => Names();

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Official_batches_match_reference(string name)
    {
        var c = Case(name);
        bool[] p = c.PredictionMask, t = c.TargetMask;
        foreach (var (b, (shape, start)) in c.Batches().Index())
        {
            var actual = OfficialMetrics.Compute(p.AsSpan(start, shape.Pixels), t.AsSpan(start, shape.Pixels), shape);
            var expected = c.OfficialBatches[b];
            string what = $"{name} batch {b}";
            Assert.Equal(expected.Counts, actual.Counts);
            Assert.Equal(expected.Size, actual.Size);
            AssertScores(what, expected.Iou, expected.Dice, expected.Hd95, expected.Precision, expected.Recall, expected.Specificity,
                actual.Iou, actual.Dice, actual.Hd95, actual.Precision, actual.Recall, actual.Specificity);
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Per_image_rows_match_reference(string name)
    {
        var c = Case(name);
        bool[] p = c.PredictionMask, t = c.TargetMask;
        int n = c.Height * c.Width;
        for (int i = 0; i < c.Count; i++)
        {
            var actual = PerImageMetrics.Compute($"{i}", p.AsSpan(i * n, n), t.AsSpan(i * n, n), c.Height, c.Width, c.PixelSpacing);
            var expected = c.PerImage[i];
            string what = $"{name} image {i}";
            Assert.Equal(expected.Counts, actual.Counts);
            Assert.Equal(expected.EmptyCase, SegmentationMeter.CsvName(actual.EmptyCase));
            AssertScores(what, expected.Iou, expected.Dice, expected.Hd95, expected.Precision, expected.Recall, expected.Specificity,
                actual.Iou, actual.Dice, actual.Hd95, actual.Precision, actual.Recall, actual.Specificity);
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Meter_summaries_match_reference(string name)
    {
        var c = Case(name);
        var meter = new SegmentationMeter(new SegmentationMeterOptions { Spacing = c.PixelSpacing });
        bool[] p = c.PredictionMask, t = c.TargetMask;
        foreach (var (shape, start) in c.Batches())
            meter.Add(p.AsSpan(start, shape.Pixels), t.AsSpan(start, shape.Pixels), shape);
        var summary = meter.Summarize();

        var o = summary.Official;
        var e = c.OfficialSummary;
        Assert.Equal((c.Count, c.BatchSizes.Length), (o.Images, o.Batches));
        AssertScores($"{name} official", e.Iou, e.Dice, e.Hd95, e.Precision, e.Recall, e.Specificity,
            o.Iou, o.Dice, o.Hd95, o.Precision, o.Recall, o.Specificity);

        var pi = summary.PerImage;
        var ep = c.PerImageSummary;
        Assert.Equal((c.Count, ep.BothEmpty, ep.PredictionEmpty, ep.TargetEmpty), (pi.Images, pi.BothEmpty, pi.PredictionEmpty, pi.TargetEmpty));
        AssertStats($"{name} iou", ep.Iou, pi.Iou, RatioTolerance);
        AssertStats($"{name} dice", ep.Dice, pi.Dice, RatioTolerance);
        AssertStats($"{name} precision", ep.Precision, pi.Precision, RatioTolerance);
        AssertStats($"{name} recall", ep.Recall, pi.Recall, RatioTolerance);
        AssertStats($"{name} specificity", ep.Specificity, pi.Specificity, RatioTolerance);
        AssertStats($"{name} hd95", ep.Hd95, pi.Hd95, Hd95Tolerance);
        if (ep.Hd95BothNonEmpty is null) Assert.Equal(0, pi.Hd95BothNonEmpty.Count);
        else AssertStats($"{name} hd95 (both non-empty)", ep.Hd95BothNonEmpty, pi.Hd95BothNonEmpty, Hd95Tolerance);
    }

    [Fact]
    public void Fixture_covers_the_cases_the_brief_asks_for()
    {
        var names = Cases.Select(c => c.Name).ToArray();
        Assert.Contains(Cases, c => c.Count == 3 && c.Height == 37 && c.Width == 53);
        Assert.Contains(Cases, c => c.Count == 8 && c.Height == 64 && c.Width == 64);
        Assert.Contains(Cases, c => c.PerImage.Any(r => r.EmptyCase == "both-empty"));
        Assert.Contains(Cases, c => c.PerImage.Any(r => r.EmptyCase == "prediction-empty"));
        Assert.Contains(Cases, c => c.PerImage.Any(r => r.EmptyCase == "target-empty"));
        Assert.Contains(Cases, c => c.BatchSizes.Length > 1);
        Assert.Contains("batch_axis_3x9x11", names);
        // in the batch-axis case the nearest points lie in neighbouring images: a 2-D reading would be far larger
        var axis = Case("batch_axis_3x9x11");
        Assert.True(axis.OfficialBatches[0].Hd95 < axis.PerImage.Where(r => r.EmptyCase == "").Min(r => r.Hd95));
        // a case where reading the batch as 3-D (B,H,W) instead of 4-D (B,1,H,W) would change HD95 (2.236 vs 2.0)
        Assert.Equal(2.0, Case("stacked_discs_3x40x40").OfficialBatches[0].Hd95);
    }

    static void AssertScores(string what, double iou, double dice, double hd95, double precision, double recall, double specificity,
        double actualIou, double actualDice, double actualHd95, double actualPrecision, double actualRecall, double actualSpecificity)
    {
        AssertRelative(iou, actualIou, RatioTolerance, what + " iou");
        AssertRelative(dice, actualDice, RatioTolerance, what + " dice");
        AssertRelative(hd95, actualHd95, Hd95Tolerance, what + " hd95");
        AssertRelative(precision, actualPrecision, RatioTolerance, what + " precision");
        AssertRelative(recall, actualRecall, RatioTolerance, what + " recall");
        AssertRelative(specificity, actualSpecificity, RatioTolerance, what + " specificity");
    }

    static void AssertStats(string what, ReferenceStats expected, MetricStatistics actual, double tolerance)
    {
        AssertRelative(expected.Mean, actual.Mean, tolerance, what + " mean");
        // numpy sums pairwise; allow rounding of the mean to show up in a std that should be 0
        Assert.True(Math.Abs(expected.Std - actual.Std) <= 1e-10 * expected.Std + 1e-12, $"{what} std: expected {expected.Std:R}, got {actual.Std:R}");
        AssertRelative(expected.Median, actual.Median, tolerance, what + " median");
    }
}
