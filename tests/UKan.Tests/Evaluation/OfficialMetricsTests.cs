using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

public class OfficialMetricsTests
{
    [Fact]
    public void Pooled_iou_and_dice_follow_iou_score()
    {
        // image 0: 4 of 4 right; image 1: 0 of 2 (missed). Pooled: |P∧T| = 4, |P∨T| = 6.
        var shape = new BatchShape(2, 2, 3);
        bool[] p = [true, true, false, true, true, false, /**/ false, false, false, false, false, false];
        bool[] t = [true, true, false, true, true, false, /**/ true, true, false, false, false, false];
        var m = OfficialMetrics.Compute(p, t, shape);
        double iou = (4 + 1e-5) / (6 + 1e-5);
        Assert.Equal(iou, m.Iou);
        Assert.Equal(2 * iou / (iou + 1), m.Dice);
        Assert.Equal((4.0 / 4, 4.0 / 6), (m.Precision, m.Recall));
        Assert.Equal(new ConfusionCounts(4, 0, 2, 6), m.Counts);
    }

    [Fact]
    public void Hd95_is_zero_when_a_whole_batch_is_empty_and_iou_is_smoothed()
    {
        var shape = new BatchShape(3, 8, 8);
        var empty = new bool[shape.Pixels];
        var t = BruteForce.RandomMask(new Random(1), [3, 8, 8], 0.2);
        Assert.Equal(0.0, OfficialMetrics.Compute(empty, t, shape).Hd95);
        Assert.Equal(0.0, OfficialMetrics.Compute(t, empty, shape).Hd95);
        var both = OfficialMetrics.Compute(empty, empty, shape);
        Assert.Equal((1.0, 1.0, 0.0), (both.Iou, both.Dice, both.Hd95)); // (0 + 1e-5) / (0 + 1e-5)
        Assert.Equal((0.0, 0.0, 1.0), (both.Precision, both.Recall, both.Specificity)); // medpy: 0/0 → 0
    }

    [Fact]
    public void Hd95_treats_the_batch_axis_as_space()
    {
        // prediction only in image 0, target only in image 1, same pixel: 1 apart along the batch axis
        var shape = new BatchShape(2, 5, 5);
        var p = new bool[shape.Pixels];
        var t = new bool[shape.Pixels];
        p[12] = true;
        t[25 + 12] = true;
        Assert.Equal(1.0, OfficialMetrics.Hd95(p, t, shape));
        // per image this is one missed and one invented object
        Assert.Equal(EmptyCase.TargetEmpty, PerImageMetrics.Compute("0", p.AsSpan(0, 25), t.AsSpan(0, 25), 5, 5, PixelSpacing.Unit).EmptyCase);
    }

    [Fact]
    public void Hd95_equals_brute_force_on_the_4d_volume()
    {
        var rng = new Random(77);
        var shape = new BatchShape(3, 10, 12);
        int[] grid = [3, 1, 10, 12];
        for (int trial = 0; trial < 6; trial++)
        {
            var p = BruteForce.RandomMask(rng, grid, 0.02);
            var t = BruteForce.RandomMask(rng, grid, 0.02);
            var expected = BruteForce.Hd95(p, t, grid, [1.0, 1.0, 1.0, 1.0]) ?? 0.0;
            MetricReferences.AssertRelative(expected, OfficialMetrics.Hd95(p, t, shape), 1e-12, $"trial {trial}");
        }
    }

    [Fact]
    public void Official_numbers_depend_on_the_batch_composition()
    {
        // The documented quirk (github.com/loli/medpy, #132): same 16 images, same predictions, different batching → different
        // official IoU, Dice and HD95; the per-image numbers do not change.
        var rng = new Random(3);
        int h = 24, w = 24, n = 16;
        var t = BruteForce.RandomMask(rng, [n, h, w], 0.0);
        var p = BruteForce.RandomMask(rng, [n, h, w], 0.01);
        for (int i = 0; i < n * h * w; i++) if (i % 5 == 0) p[i] = t[i]; // some overlap

        SegmentationSummary Run(params int[] batches)
        {
            var meter = new SegmentationMeter();
            int start = 0;
            foreach (var b in batches)
            {
                var shape = new BatchShape(b, h, w);
                meter.Add(p.AsSpan(start, shape.Pixels), t.AsSpan(start, shape.Pixels), shape);
                start += shape.Pixels;
            }
            return meter.Summarize();
        }

        var by8 = Run(8, 8);
        var by4 = Run(4, 4, 4, 4);
        var by1 = Run(Enumerable.Repeat(1, 16).ToArray());
        Assert.NotEqual(by8.Official.Iou, by4.Official.Iou);
        Assert.NotEqual(by8.Official.Hd95, by4.Official.Hd95);
        Assert.NotEqual(by4.Official.Dice, by1.Official.Dice);
        Assert.Equal(by8.PerImage, by4.PerImage);
        Assert.Equal(by8.PerImage.Iou, by1.PerImage.Iou);
        Assert.Equal(by8.PerImage.Hd95, by1.PerImage.Hd95);
    }
}
