using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

public class SegmentationMeterTests
{
    static (bool[] P, bool[] T, BatchShape Shape) Batch(int seed, int count = 4, int h = 20, int w = 18)
    {
        var rng = new Random(seed);
        return (BruteForce.RandomMask(rng, [count, h, w], 0.01), BruteForce.RandomMask(rng, [count, h, w], 0.0), new BatchShape(count, h, w));
    }

    [Fact]
    public void Keeps_one_row_per_image_and_one_value_per_batch()
    {
        var meter = new SegmentationMeter();
        var (p, t, shape) = Batch(1);
        meter.Add(p, t, shape, ["a", "b", "c", "d"]);
        var (p2, t2, shape2) = Batch(2, count: 3);
        meter.Add(p2, t2, shape2);
        Assert.Equal(["a", "b", "c", "d", "1_0", "1_1", "1_2"], meter.Images.Select(r => r.Id));
        Assert.Equal([0, 0, 0, 0, 1, 1, 1], meter.Images.Select(r => r.Batch));
        Assert.Equal([4, 3], meter.Batches.Select(b => b.Size));
        Assert.Equal(OfficialMetrics.Compute(p, t, shape), meter.Batches[0]);
        // the pooled counts are the sums of the images' counts
        Assert.Equal(ConfusionCounts.Count(p2, t2), meter.Images.Skip(4).Aggregate(default(ConfusionCounts), (s, r) => s + r.Counts));
        var summary = meter.Summarize();
        Assert.Equal((7, 2), (summary.Official.Images, summary.Official.Batches));
        Assert.Equal((meter.Batches[0].Iou * 4 + meter.Batches[1].Iou * 3) / 7, summary.Official.Iou);
        Assert.Equal(meter.Images.Average(r => r.Dice), summary.PerImage.Dice.Mean, 14);
        Assert.Equal(summary.Official.Iou, summary.Headline(MetricWay.Official).Iou);
        Assert.Equal(summary.PerImage.Hd95.Mean, summary.Headline(MetricWay.PerImage).Hd95);
        meter.Reset();
        Assert.Empty(meter.Images);
        Assert.True(double.IsNaN(meter.Summarize().Official.Iou));
    }

    [Fact]
    public void Threads_do_not_change_results()
    {
        var (p, t, shape) = Batch(3, count: 8, h: 40, w: 33);
        var serial = new SegmentationMeter(new SegmentationMeterOptions { Parallel = false });
        var parallel = new SegmentationMeter();
        serial.Add(p, t, shape);
        parallel.Add(p, t, shape);
        Assert.Equal(serial.Images, parallel.Images);
        Assert.Equal(serial.Batches, parallel.Batches);
    }

    [Fact]
    public void Hd95_can_be_skipped()
    {
        var (p, t, shape) = Batch(4);
        var meter = new SegmentationMeter(new SegmentationMeterOptions { ComputeHd95 = false });
        meter.Add(p, t, shape);
        Assert.All(meter.Images, r => Assert.True(double.IsNaN(r.Hd95)));
        Assert.True(double.IsNaN(meter.Batches[0].Hd95));
        var full = new SegmentationMeter();
        full.Add(p, t, shape);
        Assert.Equal(full.Images.Select(r => r.Iou), meter.Images.Select(r => r.Iou));
    }

    [Fact]
    public void Rejects_mismatched_input()
    {
        var (p, t, shape) = Batch(5);
        var meter = new SegmentationMeter();
        Assert.Throws<ArgumentException>(() => meter.Add(p, t, shape, ["only one"]));
        Assert.Throws<ArgumentException>(() => meter.Add(p.AsSpan(1), t, shape));
        Assert.Throws<ArgumentException>(() => new SegmentationMeter(new SegmentationMeterOptions { Spacing = default }));
    }

    [Fact]
    public void Spacing_scales_per_image_hd95_only()
    {
        var (p, t, shape) = Batch(6);
        var unit = new SegmentationMeter();
        var doubled = new SegmentationMeter(new SegmentationMeterOptions { Spacing = new PixelSpacing(2, 2) });
        unit.Add(p, t, shape);
        doubled.Add(p, t, shape);
        for (int i = 0; i < shape.Count; i++) Assert.Equal(2 * unit.Images[i].Hd95, doubled.Images[i].Hd95, 12);
        Assert.Equal(unit.Batches[0].Hd95, doubled.Batches[0].Hd95);
    }

    [Fact]
    public void Csv_export_has_a_header_and_a_row_per_image()
    {
        var (p, t, shape) = Batch(7, count: 3);
        Array.Clear(p, 0, shape.ImagePixels); // image 0: prediction empty
        var meter = new SegmentationMeter();
        meter.Add(p, t, shape, ["plain", "with,comma", "with \"quote\""]);
        var dir = Directory.CreateTempSubdirectory("ukan-metrics-");
        try
        {
            var images = Path.Combine(dir.FullName, "sub", "per_image.csv");
            meter.WriteImagesCsv(images);
            var lines = File.ReadAllLines(images);
            Assert.Equal(SegmentationMeter.ImagesCsvHeader, lines[0]);
            Assert.Equal(4, lines.Length);
            Assert.StartsWith("plain,0,0,0,", lines[1]);
            Assert.EndsWith(",prediction-empty", lines[1]);
            Assert.StartsWith("\"with,comma\",0,", lines[2]);
            Assert.StartsWith("\"with \"\"quote\"\"\",0,", lines[3]);
            var fields = lines[2].Split(',')[2..];
            Assert.Equal(meter.Images[1].Iou, double.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(meter.Images[1].Hd95, double.Parse(fields[3], System.Globalization.CultureInfo.InvariantCulture));

            var batches = Path.Combine(dir.FullName, "batches.csv");
            meter.WriteBatchesCsv(batches);
            var b = File.ReadAllLines(batches);
            Assert.Equal(SegmentationMeter.BatchesCsvHeader, b[0]);
            Assert.StartsWith("0,3,", b[1]);
            Assert.Equal(["batches.csv", "sub"], Directory.EnumerateFileSystemEntries(dir.FullName).Select(Path.GetFileName).Order());
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Per_image_csv_reads_back_to_the_same_rows()
    {
        var (p, t, shape) = Batch(11, count: 4);
        Array.Clear(p, 0, shape.ImagePixels);                  // image 0: prediction empty (HD95 from the empty-mask rule)
        var meter = new SegmentationMeter();
        meter.Add(p, t, shape, ["plain", "with,comma", "with \"quote\"", "line\nbreak"]);
        var skipped = new SegmentationMeter(new SegmentationMeterOptions { ComputeHd95 = false });
        skipped.Add(p, t, shape);
        var dir = Directory.CreateTempSubdirectory("ukan-metrics-");
        try
        {
            foreach (var m in new[] { meter, skipped })
            {
                var path = Path.Combine(dir.FullName, "per_image.csv");
                m.WriteImagesCsv(path);
                var read = SegmentationMeter.ReadImagesCsv(path);
                // Records compare every field; NaN (HD95 not computed) equals NaN in a record's Equals.
                Assert.Equal(m.Images, read);
            }
            Assert.All(SegmentationMeter.ReadImagesCsv(Path.Combine(dir.FullName, "per_image.csv")), r => Assert.True(double.IsNaN(r.Hd95)));

            var broken = Path.Combine(dir.FullName, "broken.csv");
            File.WriteAllText(broken, SegmentationMeter.ImagesCsvHeader + "\nx,0,0.5\n");
            Assert.Contains("line 2", Assert.Throws<UserError>(() => SegmentationMeter.ReadImagesCsv(broken)).Message);
            File.WriteAllText(broken, "id,iou\nx,0.5\n");
            Assert.Contains("first line", Assert.Throws<UserError>(() => SegmentationMeter.ReadImagesCsv(broken)).Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
