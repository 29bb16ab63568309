using UKan.Data;

namespace UKan.Evaluation.Statistics;

/// <summary>A confidence interval [Low, High] at <see cref="Level"/>, from <see cref="Resamples"/> bootstrap resamples.</summary>
public readonly record struct ConfidenceInterval(double Low, double High, double Level, int Resamples);

/// <summary>
/// Percentile bootstrap (Efron &amp; Tibshirani, An Introduction to the Bootstrap, 1993, ch. 13) of the mean of
/// paired differences: B resamples of the n differences drawn with replacement, the mean of each, and the
/// (1−level)/2 and (1+level)/2 percentiles of those means (numpy's linear percentile, <see cref="Percentile"/>).
/// The draws come from <see cref="SplitMix64"/> seeded with <c>seed</c>, so the interval is reproducible; its
/// numbers differ from another program's bootstrap by the Monte-Carlo error (about 0.01·sd/√n at B = 10000).
/// </summary>
public static class BootstrapInterval
{
    public const int DefaultResamples = 10_000;
    public const double DefaultLevel = 0.95;
    public const long DefaultSeed = 1;

    public static ConfidenceInterval OfMean(ReadOnlySpan<double> values, int resamples = DefaultResamples, double level = DefaultLevel,
        long seed = DefaultSeed)
    {
        if (values.IsEmpty) throw new ArgumentException("a bootstrap needs at least one value");
        if (resamples < 1) throw new ArgumentOutOfRangeException(nameof(resamples), "at least one resample");
        if (!(level > 0 && level < 1)) throw new ArgumentOutOfRangeException(nameof(level), "level must be in (0, 1)");
        var rng = SplitMix64.For(seed);
        int n = values.Length;
        var means = new double[resamples];
        for (int b = 0; b < resamples; b++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++) sum += values[rng.NextInt(n)];
            means[b] = sum / n;
        }
        double low = Percentile.Linear(means, (1 - level) / 2);
        double high = Percentile.Linear(means, (1 + level) / 2);
        return new ConfidenceInterval(low, high, level, resamples);
    }
}
