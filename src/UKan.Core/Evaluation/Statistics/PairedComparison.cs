namespace UKan.Evaluation.Statistics;

/// <summary>Whether a larger or a smaller value of a metric is better.</summary>
public enum Better
{
    Higher,
    Lower,
}

/// <summary>
/// A model compared with a reference on the same images, for one metric. Differences are model − reference per
/// image; <see cref="Wins"/> counts the images where the model is better (by the metric's direction),
/// <see cref="Losses"/> where the reference is, <see cref="Ties"/> where both score the same.
/// </summary>
public sealed record PairedComparison(string Metric, Better Better, int Images, double ReferenceMean, double ModelMean,
    MetricStatistics Difference, ConfidenceInterval Interval, WilcoxonResult Wilcoxon, int Wins, int Ties, int Losses)
{
    /// <summary>
    /// Compares per-image scores given in the same image order. Images where either score is NaN (not computed) are
    /// left out of everything.
    /// </summary>
    public static PairedComparison Of(string metric, Better better, IReadOnlyList<double> reference, IReadOnlyList<double> model,
        int resamples = BootstrapInterval.DefaultResamples, long seed = BootstrapInterval.DefaultSeed, double level = BootstrapInterval.DefaultLevel)
    {
        if (reference.Count != model.Count)
            throw new ArgumentException($"{reference.Count} reference scores but {model.Count} model scores; pair them by image first");
        var pairs = Enumerable.Range(0, reference.Count)
            .Where(i => !double.IsNaN(reference[i]) && !double.IsNaN(model[i]))
            .Select(i => (Reference: reference[i], Model: model[i]))
            .ToList();
        if (pairs.Count == 0) throw new ArgumentException($"no image has both {metric} scores");
        var differences = pairs.Select(p => p.Model - p.Reference).ToArray();
        int sign = better == Better.Higher ? 1 : -1;
        return new PairedComparison(metric, better, pairs.Count,
            pairs.Average(p => p.Reference), pairs.Average(p => p.Model),
            MetricStatistics.Of(differences),
            BootstrapInterval.OfMean(differences, resamples, level, seed),
            WilcoxonSignedRank.Test(differences),
            differences.Count(d => sign * d > 0), differences.Count(d => d == 0), differences.Count(d => sign * d < 0));
    }
}
