using System.Runtime.InteropServices;

namespace UKan.Evaluation;

/// <summary>
/// Pixel confusion counts of a binary prediction against a binary target (positive = foreground). Counts add, so
/// the counts of a batch are the sums of its images' counts; that is how the <c>official</c> way pools a batch.
/// </summary>
public readonly record struct ConfusionCounts(long TruePositive, long FalsePositive, long FalseNegative, long TrueNegative)
{
    public long Total => TruePositive + FalsePositive + FalseNegative + TrueNegative;

    /// <summary>|P|: pixels the prediction marks as foreground.</summary>
    public long PredictedPositive => TruePositive + FalsePositive;

    /// <summary>|T|: pixels the target marks as foreground.</summary>
    public long TargetPositive => TruePositive + FalseNegative;

    /// <summary>|P ∨ T|.</summary>
    public long Union => TruePositive + FalsePositive + FalseNegative;

    /// <summary>True when the prediction equals the target pixel for pixel.</summary>
    public bool IsExact => FalsePositive == 0 && FalseNegative == 0;

    public static ConfusionCounts operator +(ConfusionCounts a, ConfusionCounts b) => new(
        a.TruePositive + b.TruePositive, a.FalsePositive + b.FalsePositive,
        a.FalseNegative + b.FalseNegative, a.TrueNegative + b.TrueNegative);

    /// <summary>Counts two masks of the same length (any shape, flattened).</summary>
    public static ConfusionCounts Count(ReadOnlySpan<bool> prediction, ReadOnlySpan<bool> target)
    {
        if (prediction.Length != target.Length)
            throw new ArgumentException($"prediction has {prediction.Length} pixels but target has {target.Length}");
        // .NET stores bool as one byte 0/1, so the counts are sums of bytes: no branches in the loop.
        var p = MemoryMarshal.AsBytes(prediction);
        var t = MemoryMarshal.AsBytes(target);
        long both = 0, predicted = 0, actual = 0;
        for (int i = 0; i < p.Length; i++)
        {
            int pi = p[i], ti = t[i];
            both += pi & ti;
            predicted += pi;
            actual += ti;
        }
        return new ConfusionCounts(both, predicted - both, actual - both, p.Length - predicted - actual + both);
    }
}
