using System.Text.Json;
using System.Text.Json.Serialization;
using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

/// <summary>
/// Reads Fixtures/metric_references.json, written by make_metric_references.py (scipy.ndimage + numpy, an
/// independent implementation of the definitions).
/// </summary>
public static class MetricReferences
{
    static readonly Lazy<IReadOnlyList<ReferenceCase>> cases = new(Load);

    public static IReadOnlyList<ReferenceCase> Cases => cases.Value;

    public static ReferenceCase Case(string name) => Cases.Single(c => c.Name == name);

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var c in Cases) data.Add(c.Name);
        return data;
    }

    static IReadOnlyList<ReferenceCase> Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Evaluation", "Fixtures", "metric_references.json");
        var options = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
        return JsonSerializer.Deserialize<ReferenceFile>(File.ReadAllText(path), options)!.Cases;
    }

    /// <summary>numpy.packbits with big bit order, undone.</summary>
    public static bool[] Unpack(string base64, int length)
    {
        var bytes = Convert.FromBase64String(base64);
        var mask = new bool[length];
        for (int i = 0; i < length; i++) mask[i] = (bytes[i >> 3] >> (7 - (i & 7)) & 1) == 1;
        return mask;
    }

    /// <summary>|actual − expected| ≤ relative·|expected| (+ 1e-300 so that 0 must be met exactly).</summary>
    public static void AssertRelative(double expected, double actual, double relative, string what)
    {
        if (!(Math.Abs(actual - expected) <= relative * Math.Abs(expected) + 1e-300))
            Assert.Fail($"{what}: expected {expected:R}, got {actual:R} (relative tolerance {relative})");
    }
}

public sealed record ReferenceFile(string Numpy, string Scipy, IReadOnlyList<ReferenceCase> Cases);

public sealed record ReferenceCase(string Name, int Count, int Height, int Width, double[] Spacing, int[] BatchSizes,
    string Prediction, string Target, IReadOnlyList<ReferenceBatch> OfficialBatches, ReferenceScores OfficialSummary,
    IReadOnlyList<ReferenceImage> PerImage, ReferencePerImageSummary PerImageSummary)
{
    public BatchShape Shape => new(Count, Height, Width);
    public PixelSpacing PixelSpacing => new(Spacing[0], Spacing[1]);
    public bool[] PredictionMask => MetricReferences.Unpack(Prediction, Count * Height * Width);
    public bool[] TargetMask => MetricReferences.Unpack(Target, Count * Height * Width);

    /// <summary>The batches as the reference split the images: shape and first pixel of each.</summary>
    public IEnumerable<(BatchShape Shape, int Start)> Batches()
    {
        int start = 0;
        foreach (var size in BatchSizes)
        {
            var shape = new BatchShape(size, Height, Width);
            yield return (shape, start);
            start += shape.Pixels;
        }
    }
    public override string ToString() => Name;
}

public sealed record ReferenceScores(double Iou, double Dice, double Hd95, double Precision, double Recall, double Specificity);

public sealed record ReferenceBatch(int Size, long Tp, long Fp, long Fn, long Tn, double Iou, double Dice, double Hd95,
    double Precision, double Recall, double Specificity)
{
    public ConfusionCounts Counts => new(Tp, Fp, Fn, Tn);
}

public sealed record ReferenceImage(long Tp, long Fp, long Fn, long Tn, string EmptyCase, double Iou, double Dice, double Hd95,
    double Precision, double Recall, double Specificity)
{
    public ConfusionCounts Counts => new(Tp, Fp, Fn, Tn);
}

public sealed record ReferenceStats(double Mean, double Std, double Median);

public sealed record ReferencePerImageSummary(int BothEmpty, int PredictionEmpty, int TargetEmpty, ReferenceStats? Hd95BothNonEmpty,
    ReferenceStats Iou, ReferenceStats Dice, ReferenceStats Hd95, ReferenceStats Precision, ReferenceStats Recall, ReferenceStats Specificity);
