using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

public class SegmentationScoresTests
{
    [Fact]
    public void Counts_are_exact()
    {
        bool[] p = [true, true, false, false, true, false, true];
        bool[] t = [true, false, true, false, true, false, false];
        Assert.Equal(new ConfusionCounts(2, 2, 1, 2), ConfusionCounts.Count(p, t));
        Assert.Throws<ArgumentException>(() => ConfusionCounts.Count(p, t.AsSpan(1)));
    }

    [Fact]
    public void Ratios_follow_their_definitions()
    {
        var c = new ConfusionCounts(TruePositive: 6, FalsePositive: 2, FalseNegative: 4, TrueNegative: 88);
        Assert.Equal(6.0 / 12, SegmentationScores.Iou(c, 0, double.NaN));
        Assert.Equal(12.0 / 18, SegmentationScores.Dice(c, 0, double.NaN));
        Assert.Equal(6.0 / 8, SegmentationScores.Precision(c, 0, double.NaN));
        Assert.Equal(6.0 / 10, SegmentationScores.Recall(c, 0, double.NaN));
        Assert.Equal(88.0 / 90, SegmentationScores.Specificity(c, 0, double.NaN));
        Assert.Equal((6 + 1e-5) / (12 + 1e-5), SegmentationScores.Iou(c, SegmentationScores.OfficialSmooth, double.NaN));
        // unsmoothed, Dice from IoU is Dice
        Assert.Equal(SegmentationScores.Dice(c, 0, 0), SegmentationScores.DiceFromIou(SegmentationScores.Iou(c, 0, 0)), 15);
    }

    [Fact]
    public void Empty_mask_rule_settles_every_zero_over_zero()
    {
        var bothEmpty = new ConfusionCounts(0, 0, 0, 100);
        var missed = new ConfusionCounts(0, 0, 7, 93);
        var invented = new ConfusionCounts(0, 5, 0, 95);
        Assert.Equal(EmptyCase.BothEmpty, EmptyMaskRule.Classify(bothEmpty));
        Assert.Equal(EmptyCase.PredictionEmpty, EmptyMaskRule.Classify(missed));
        Assert.Equal(EmptyCase.TargetEmpty, EmptyMaskRule.Classify(invented));
        Assert.Equal(EmptyCase.None, EmptyMaskRule.Classify(new ConfusionCounts(1, 0, 0, 0)));

        var spacing = new PixelSpacing(0.5, 2);
        Assert.Equal(0.0, EmptyMaskRule.Hd95(EmptyCase.BothEmpty, 30, 40, spacing));
        Assert.Equal(Math.Sqrt(15 * 15 + 80 * 80), EmptyMaskRule.Hd95(EmptyCase.PredictionEmpty, 30, 40, spacing));
        Assert.Equal(Math.Sqrt(15 * 15 + 80 * 80), EmptyMaskRule.Hd95(EmptyCase.TargetEmpty, 30, 40, spacing));
        Assert.Throws<ArgumentException>(() => EmptyMaskRule.Hd95(EmptyCase.None, 30, 40, spacing));

        var image = new bool[6 * 5];
        var both = PerImageMetrics.Compute("e", image, image, 6, 5, PixelSpacing.Unit);
        Assert.Equal((1.0, 1.0, 0.0, 1.0, 1.0, 1.0), (both.Iou, both.Dice, both.Hd95, both.Precision, both.Recall, both.Specificity));
        var target = (bool[])image.Clone();
        target[7] = true;
        var miss = PerImageMetrics.Compute("m", image, target, 6, 5, PixelSpacing.Unit);
        Assert.Equal((0.0, 0.0, Math.Sqrt(61), 0.0, 0.0), (miss.Iou, miss.Dice, miss.Hd95, miss.Precision, miss.Recall));
        var extra = PerImageMetrics.Compute("x", target, image, 6, 5, PixelSpacing.Unit);
        Assert.Equal((0.0, 0.0, Math.Sqrt(61), 0.0, 0.0), (extra.Iou, extra.Dice, extra.Hd95, extra.Precision, extra.Recall));
    }

    [Fact]
    public void Diagonal_exceeds_any_measured_hd95()
    {
        // the farthest two pixel centres can be is the centre-to-centre diagonal, shorter than the image diagonal
        var a = new bool[9 * 13];
        var b = new bool[9 * 13];
        a[0] = true;
        b[^1] = true;
        var measured = PerImageMetrics.ContourHd95(a, b, 9, 13, PixelSpacing.Unit);
        Assert.Equal(Math.Sqrt(8 * 8 + 12 * 12), measured);
        Assert.True(measured < EmptyMaskRule.Diagonal(9, 13, PixelSpacing.Unit));
    }

    [Fact]
    public void Metric_way_names_round_trip()
    {
        foreach (var way in Enum.GetValues<MetricWay>()) Assert.Equal(way, MetricWays.Parse(MetricWays.Name(way)));
        Assert.Throws<UserError>(() => MetricWays.Parse("macro"));
    }
}
