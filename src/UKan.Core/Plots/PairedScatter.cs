using UKan.Evaluation;

namespace UKan.Plots;

/// <summary>
/// Per-image scatter of a comparison for one metric: the reference model's score on x, each other model's on y,
/// and the diagonal; points above it (below it for a lower-is-better metric) are images where the model wins.
/// </summary>
public static class PairedScatter
{
    public static void Save(string path, ModelComparison comparison, ComparedMetric metric)
    {
        var plot = PlotFont.NewPlot();
        var reference = comparison.PerImage[0].Select(metric.Value).ToArray();
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        for (int m = 1; m < comparison.Models.Count; m++)
        {
            var model = comparison.PerImage[m].Select(metric.Value).ToArray();
            var keep = Enumerable.Range(0, reference.Length).Where(i => double.IsFinite(reference[i]) && double.IsFinite(model[i])).ToArray();
            var xs = keep.Select(i => reference[i]).ToArray();
            var ys = keep.Select(i => model[i]).ToArray();
            if (xs.Length == 0) continue;
            var points = plot.Add.Scatter(xs, ys);
            points.LineWidth = 0;
            points.MarkerSize = 6;
            points.LegendText = Path.GetFileName(comparison.Models[m]);
            lo = Math.Min(lo, Math.Min(xs.Min(), ys.Min()));
            hi = Math.Max(hi, Math.Max(xs.Max(), ys.Max()));
        }
        if (lo <= hi)
        {
            var diagonal = plot.Add.Line(lo, lo, hi, hi);
            diagonal.LinePattern = ScottPlot.LinePattern.Dashed;
            diagonal.LegendText = "equal";
        }
        plot.Title($"per-image {metric.Name} ({(metric.Better == Evaluation.Statistics.Better.Higher ? "higher" : "lower")} is better)");
        plot.XLabel($"{Path.GetFileName(comparison.Models[0])} (reference)");
        plot.YLabel("other model");
        plot.ShowLegend();
        var bytes = plot.GetImageBytes(700, 600, ScottPlot.ImageFormat.Png);
        UKan.AtomicFile.WriteAllBytes(path, bytes);
    }
}
