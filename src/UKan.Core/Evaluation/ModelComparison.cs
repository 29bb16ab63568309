using System.Globalization;
using System.Text;
using UKan.Evaluation.Statistics;

namespace UKan.Evaluation;

/// <summary>One model's comparison with the reference (the first model) for one metric.</summary>
public sealed record ComparisonRow(string Model, string Reference, PairedComparison Stats);

/// <summary>
/// Several models scored on the same images, each compared with the first per image: paired differences
/// (model − reference), their bootstrap confidence interval, a Wilcoxon signed-rank test, wins/ties/losses
/// (<see cref="PairedComparison"/>). Built from the per-image rows of each model, matched by image id.
/// </summary>
public sealed record ModelComparison(IReadOnlyList<string> Models, EvaluationImages Images, IReadOnlyList<ComparedMetric> Metrics,
    IReadOnlyList<IReadOnlyList<ImageMetrics>> PerImage, IReadOnlyList<ComparisonRow> Rows)
{
    public static ModelComparison Of(IReadOnlyList<string> models, EvaluationImages images, IReadOnlyList<ComparedMetric> metrics,
        IReadOnlyList<IReadOnlyList<ImageMetrics>> perImage, int resamples = BootstrapInterval.DefaultResamples, long seed = BootstrapInterval.DefaultSeed)
    {
        if (models.Count < 2 || perImage.Count != models.Count) throw new ArgumentException("a comparison needs at least two models, each with its rows");
        // Every model's rows in the order of the images.
        var aligned = perImage.Select((rows, m) =>
        {
            var byId = rows.ToDictionary(r => r.Id, StringComparer.Ordinal);
            return (IReadOnlyList<ImageMetrics>)images.Ids.Select(id => byId.TryGetValue(id, out var r) ? r
                : throw new ArgumentException($"{models[m]} has no score for {id}")).ToList();
        }).ToList();
        var rows = new List<ComparisonRow>();
        for (int m = 1; m < models.Count; m++)
            foreach (var metric in metrics)
                rows.Add(new ComparisonRow(models[m], models[0], PairedComparison.Of(metric.Name, metric.Better,
                    aligned[0].Select(metric.Value).ToList(), aligned[m].Select(metric.Value).ToList(), resamples, seed)));
        return new ModelComparison(models, images, metrics, aligned, rows);
    }

    public static readonly string[] Header =
    [
        "model", "reference", "metric", "better", "images", "reference_mean", "model_mean", "mean_difference", "sd_difference",
        "median_difference", "ci_low", "ci_high", "wilcoxon_statistic", "p_value", "wilcoxon_method", "wins", "ties", "losses",
    ];

    static string N(double v) => double.IsNaN(v) ? "" : v.ToString("R", CultureInfo.InvariantCulture);

    static string[] Cells(ComparisonRow r)
    {
        var s = r.Stats;
        return
        [
            r.Model, r.Reference, s.Metric, s.Better == Better.Higher ? "higher" : "lower", s.Images.ToString(CultureInfo.InvariantCulture),
            N(s.ReferenceMean), N(s.ModelMean), N(s.Difference.Mean), N(s.Difference.Std), N(s.Difference.Median), N(s.Interval.Low),
            N(s.Interval.High), N(s.Wilcoxon.Statistic), N(s.Wilcoxon.PValue), s.Wilcoxon.Method == WilcoxonMethod.Exact ? "exact" : "normal",
            s.Wins.ToString(CultureInfo.InvariantCulture), s.Ties.ToString(CultureInfo.InvariantCulture), s.Losses.ToString(CultureInfo.InvariantCulture),
        ];
    }

    static string Csv(string s) => s.AsSpan().IndexOfAny(",\"\r\n") < 0 ? s : "\"" + s.Replace("\"", "\"\"") + "\"";

    /// <summary>compare.csv: one row per (model, metric).</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder(string.Join(',', Header)).Append('\n');
        foreach (var r in Rows) sb.AppendJoin(',', Cells(r).Select(Csv)).Append('\n');
        return sb.ToString();
    }

    /// <summary>per_image.csv: one row per image, one column per model and metric.</summary>
    public string PerImageCsv()
    {
        var sb = new StringBuilder("id");
        foreach (var metric in Metrics)
            for (int m = 0; m < Models.Count; m++) sb.Append(',').Append(Csv($"{metric.Name}:{Models[m]}"));
        sb.Append('\n');
        for (int i = 0; i < Images.Ids.Count; i++)
        {
            sb.Append(Csv(Images.Ids[i]));
            foreach (var metric in Metrics)
                for (int m = 0; m < Models.Count; m++) sb.Append(',').Append(N(metric.Value(PerImage[m][i])));
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>compare.md: what was compared, on which images, and the table.</summary>
    public string ToMarkdown()
    {
        static string F(double v, string format) => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);
        var sb = new StringBuilder("# Paired comparison\n\n")
            .Append($"{Images.Ids.Count} images of {Images.Data} ({Images.Source}), every model scored per image (docs/metrics.md). ")
            .Append($"Reference: {Models[0]}. Difference = model − reference per image; 95 % CI: percentile bootstrap of the mean difference; ")
            .Append("p: two-sided Wilcoxon signed-rank test; wins/ties/losses: images where the model is better / equal / worse.\n\n")
            .Append("| model | metric | reference mean | model mean | mean difference | 95 % CI | p | wins / ties / losses |\n")
            .Append("|---|---|---|---|---|---|---|---|\n");
        foreach (var r in Rows)
        {
            var s = r.Stats;
            string format = s.Metric == "hd95" ? "F2" : "F4";
            sb.Append($"| {r.Model} | {s.Metric} | {F(s.ReferenceMean, format)} | {F(s.ModelMean, format)} | {F(s.Difference.Mean, format)} | ")
              .Append($"[{F(s.Interval.Low, format)}, {F(s.Interval.High, format)}] | {F(s.Wilcoxon.PValue, "G3")} | {s.Wins} / {s.Ties} / {s.Losses} |\n");
        }
        return sb.ToString();
    }

    /// <summary>compare.json: the settings and every row's statistics (snake_case).</summary>
    public string ToJson() => UKan.IO.JsonFiles.Serialize(new
    {
        models = Models,
        data = Images.Data,
        images = Images.Source,
        image_count = Images.Ids.Count,
        comparisons = Rows.Select(r => new { r.Model, r.Reference, r.Stats }),
    });
}
