using System.Globalization;
using System.Text;

namespace UKan.Evaluation;

/// <summary>Settings of a <see cref="SegmentationMeter"/>.</summary>
public sealed record SegmentationMeterOptions
{
    /// <summary>Pixel spacing for the per-image HD95 (the official HD95 always uses 1, as upstream).</summary>
    public PixelSpacing Spacing { get; init; } = PixelSpacing.Unit;

    /// <summary>False skips HD95 in both ways (NaN in rows and summaries): for cheap per-step training metrics.</summary>
    public bool ComputeHd95 { get; init; } = true;

    /// <summary>Compute the images of a batch on several threads (results do not depend on it).</summary>
    public bool Parallel { get; init; } = true;
}

/// <summary>
/// Accumulates segmentation metrics batch by batch for the trainer and the evaluator, in both ways at once:
/// one <see cref="ImageMetrics"/> row per image (<c>per-image</c>) and one <see cref="OfficialBatchMetrics"/> per
/// batch (<c>official</c>). Only these scores are kept, never the masks. Feed batches exactly as the loader yields
/// them (size 8, last one smaller, no shuffling) for official numbers that compare with upstream. Not thread-safe.
/// </summary>
public sealed class SegmentationMeter(SegmentationMeterOptions? options = null)
{
    public const string ImagesCsvHeader =
        "id,batch,iou,dice,hd95,precision,recall,specificity,target_pixels,predicted_pixels,tp,fp,fn,tn,empty_case";

    public const string BatchesCsvHeader = "batch,size,iou,dice,hd95,precision,recall,specificity,tp,fp,fn,tn";

    readonly List<ImageMetrics> images = [];
    readonly List<OfficialBatchMetrics> batches = [];

    public SegmentationMeterOptions Options { get; } = Validate(options ?? new SegmentationMeterOptions());

    public IReadOnlyList<ImageMetrics> Images => images;
    public IReadOnlyList<OfficialBatchMetrics> Batches => batches;

    /// <summary>
    /// Adds one batch: binary prediction and target laid out as <paramref name="shape"/> (contiguous (B,1,H,W)),
    /// with one id per image (default "&lt;batch&gt;_&lt;image&gt;").
    /// </summary>
    public unsafe void Add(ReadOnlySpan<bool> prediction, ReadOnlySpan<bool> target, BatchShape shape, IReadOnlyList<string>? ids = null)
    {
        OfficialMetrics.CheckLength(prediction, target, shape);
        if (ids is not null && ids.Count != shape.Count)
            throw new ArgumentException($"batch of {shape.Count} images came with {ids.Count} ids");
        int batch = batches.Count;
        var rows = new ImageMetrics[shape.Count];
        fixed (bool* p = prediction, t = target)
        {
            bool* pp = p, tp = t; // fixed locals cannot be captured
            void Image(int i)
            {
                int n = shape.ImagePixels;
                var row = PerImageMetrics.Compute(ids?[i] ?? $"{batch}_{i}",
                    new ReadOnlySpan<bool>(pp + (long)i * n, n), new ReadOnlySpan<bool>(tp + (long)i * n, n),
                    shape.Height, shape.Width, Options.Spacing, Options.ComputeHd95);
                rows[i] = row with { Batch = batch };
            }
            if (Options.Parallel && shape.Count > 1) System.Threading.Tasks.Parallel.For(0, shape.Count, Image);
            else for (int i = 0; i < shape.Count; i++) Image(i);
        }
        var pooled = default(ConfusionCounts);
        foreach (var row in rows) pooled += row.Counts;
        double hd95 = Options.ComputeHd95 ? OfficialMetrics.Hd95(prediction, target, shape) : double.NaN;
        batches.Add(OfficialMetrics.FromCounts(pooled, shape.Count, hd95));
        images.AddRange(rows);
    }

    /// <summary>
    /// Adds one batch from per-image confusion counts alone (computed on the device, say): the same rows and official
    /// batch values as <see cref="Add"/> with HD95 off.
    /// </summary>
    public void AddCounts(IReadOnlyList<ConfusionCounts> perImage, IReadOnlyList<string> ids)
    {
        if (Options.ComputeHd95) throw new InvalidOperationException("HD95 needs the masks; counts alone cannot give it (ComputeHd95 = false)");
        if (ids.Count != perImage.Count) throw new ArgumentException($"batch of {perImage.Count} images came with {ids.Count} ids");
        int batch = batches.Count;
        var pooled = default(ConfusionCounts);
        for (int i = 0; i < perImage.Count; i++)
        {
            images.Add(PerImageMetrics.FromCounts(ids[i], perImage[i]) with { Batch = batch });
            pooled += perImage[i];
        }
        batches.Add(OfficialMetrics.FromCounts(pooled, perImage.Count, double.NaN));
    }

    public void Reset()
    {
        images.Clear();
        batches.Clear();
    }

    public SegmentationSummary Summarize() => new(SummarizeOfficial(batches), SummarizePerImage(images));

    /// <summary>Batch-size-weighted means in upstream AverageMeter order: sum += value·n; count += n; sum / count.</summary>
    public static OfficialSummary SummarizeOfficial(IReadOnlyList<OfficialBatchMetrics> batches)
    {
        int count = 0;
        foreach (var b in batches) count += b.Size;
        double Mean(Func<OfficialBatchMetrics, double> value)
        {
            if (count == 0) return double.NaN;
            double sum = 0;
            foreach (var b in batches) sum += value(b) * b.Size;
            return sum / count;
        }
        return new OfficialSummary(count, batches.Count, Mean(b => b.Iou), Mean(b => b.Dice), Mean(b => b.Hd95),
            Mean(b => b.Precision), Mean(b => b.Recall), Mean(b => b.Specificity));
    }

    public static PerImageSummary SummarizePerImage(IReadOnlyList<ImageMetrics> images)
    {
        MetricStatistics Stats(Func<ImageMetrics, double> value) => MetricStatistics.Of(images.Select(value));
        int Count(EmptyCase c) => images.Count(r => r.EmptyCase == c);
        return new PerImageSummary(images.Count, Count(EmptyCase.BothEmpty), Count(EmptyCase.PredictionEmpty), Count(EmptyCase.TargetEmpty),
            Stats(r => r.Iou), Stats(r => r.Dice), Stats(r => r.Hd95),
            MetricStatistics.Of(images.Where(r => r.EmptyCase == EmptyCase.None).Select(r => r.Hd95)),
            Stats(r => r.Precision), Stats(r => r.Recall), Stats(r => r.Specificity));
    }

    /// <summary>Writes the per-image rows as CSV (<see cref="ImagesCsvHeader"/>), atomically.</summary>
    public void WriteImagesCsv(string path)
    {
        var csv = new StringBuilder(ImagesCsvHeader).Append('\n');
        AppendImageRows(csv, "");
        AtomicFile.WriteAllText(path, csv.ToString());
    }

    /// <summary>
    /// The rows of a per-image CSV written by <see cref="WriteImagesCsv(string)"/>, in file order: every score read from
    /// its column (an empty field, HD95 not computed, is NaN), the counts from tp/fp/fn/tn. A file that is not such a
    /// CSV is a <see cref="UserError"/> naming the line.
    /// </summary>
    public static IReadOnlyList<ImageMetrics> ReadImagesCsv(string path)
    {
        var records = CsvRecords(File.ReadAllText(path));
        var header = ImagesCsvHeader.Split(',');
        if (records.Count == 0 || !records[0].SequenceEqual(header))
            throw new UserError($"{path}: not a per-image score file of ukan (its first line must be '{ImagesCsvHeader}').");
        int Column(string name) => Array.IndexOf(header, name);
        var rows = new List<ImageMetrics>();
        for (int i = 1; i < records.Count; i++)
        {
            var r = records[i];
            string Where() => $"{path}: line {i + 1}";
            if (r.Length != header.Length) throw new UserError($"{Where()}: {r.Length} fields instead of {header.Length}; the file is damaged.");
            double Score(string name)
            {
                var text = r[Column(name)];
                if (text.Length == 0) return double.NaN;
                return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                    : throw new UserError($"{Where()}: {name} '{text}' is not a number; the file is damaged.");
            }
            long Count(string name) => long.TryParse(r[Column(name)], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
                : throw new UserError($"{Where()}: {name} '{r[Column(name)]}' is not a pixel count; the file is damaged.");
            var counts = new ConfusionCounts(Count("tp"), Count("fp"), Count("fn"), Count("tn"));
            int batch = int.TryParse(r[Column("batch")], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var b) ? b : -1;
            rows.Add(new ImageMetrics(r[Column("id")], counts, EmptyMaskRule.Classify(counts), Score("iou"), Score("dice"), Score("hd95"),
                Score("precision"), Score("recall"), Score("specificity"))
            { Batch = batch });
        }
        return rows;
    }

    /// <summary>RFC 4180 records of <paramref name="text"/> (quoted fields may hold commas, quotes and line breaks).</summary>
    static List<string[]> CsvRecords(string text)
    {
        var records = new List<string[]>();
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false, any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            any = true;
            if (quoted)
            {
                if (c != '"') field.Append(c);
                else if (i + 1 < text.Length && text[i + 1] == '"') field.Append(text[++i]);
                else quoted = false;
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else if (c is '\n' or '\r')
            {
                if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
                fields.Add(field.ToString());
                field.Clear();
                records.Add([.. fields]);
                fields.Clear();
                any = false;
            }
            else field.Append(c);
        }
        if (any) { fields.Add(field.ToString()); records.Add([.. fields]); }
        return records;
    }

    /// <summary>
    /// The per-image rows of several classes' meters in one CSV: a first column <c>class</c> (the class index, from
    /// <paramref name="firstClass"/>), then the columns of <see cref="ImagesCsvHeader"/>.
    /// </summary>
    public static void WriteImagesCsv(string path, IReadOnlyList<SegmentationMeter> classes, int firstClass)
    {
        var csv = new StringBuilder("class,").Append(ImagesCsvHeader).Append('\n');
        for (int k = 0; k < classes.Count; k++) classes[k].AppendImageRows(csv, $"{firstClass + k},");
        AtomicFile.WriteAllText(path, csv.ToString());
    }

    void AppendImageRows(StringBuilder csv, string prefix)
    {
        foreach (var r in images)
        {
            var c = r.Counts;
            csv.Append(prefix).AppendJoin(',', Quote(r.Id), r.Batch, Number(r.Iou), Number(r.Dice), Number(r.Hd95), Number(r.Precision),
                Number(r.Recall), Number(r.Specificity), r.TargetPixels, r.PredictedPixels,
                c.TruePositive, c.FalsePositive, c.FalseNegative, c.TrueNegative, CsvName(r.EmptyCase)).Append('\n');
        }
    }

    /// <summary>Writes the official per-batch values as CSV (<see cref="BatchesCsvHeader"/>), atomically.</summary>
    public void WriteBatchesCsv(string path)
    {
        var csv = new StringBuilder(BatchesCsvHeader).Append('\n');
        for (int i = 0; i < batches.Count; i++)
        {
            var b = batches[i];
            var c = b.Counts;
            csv.AppendJoin(',', i, b.Size, Number(b.Iou), Number(b.Dice), Number(b.Hd95), Number(b.Precision),
                Number(b.Recall), Number(b.Specificity), c.TruePositive, c.FalsePositive, c.FalseNegative, c.TrueNegative).Append('\n');
        }
        AtomicFile.WriteAllText(path, csv.ToString());
    }

    /// <summary>The empty_case column: empty for measured images, else which mask was empty.</summary>
    public static string CsvName(EmptyCase c) => c switch
    {
        EmptyCase.None => "",
        EmptyCase.BothEmpty => "both-empty",
        EmptyCase.PredictionEmpty => "prediction-empty",
        EmptyCase.TargetEmpty => "target-empty",
        _ => throw new ArgumentOutOfRangeException(nameof(c)),
    };

    /// <summary>Shortest round-trip form; NaN (not computed) as an empty field.</summary>
    static string Number(double x) => double.IsNaN(x) ? "" : x.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>RFC 4180 quoting for ids holding a comma, quote or line break.</summary>
    static string Quote(string s) => s.AsSpan().IndexOfAny(",\"\r\n") < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";

    static SegmentationMeterOptions Validate(SegmentationMeterOptions o)
    {
        if (!(o.Spacing.Row > 0) || !(o.Spacing.Column > 0))
            throw new ArgumentException("SegmentationMeterOptions.Spacing must be positive (use PixelSpacing.Unit for pixels)");
        return o;
    }
}
