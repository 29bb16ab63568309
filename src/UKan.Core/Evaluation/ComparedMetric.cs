using UKan.Evaluation.Statistics;

namespace UKan.Evaluation;

/// <summary>A per-image metric <c>ukan compare</c> can test: its name, how to read it from a row, and which direction is better.</summary>
public sealed record ComparedMetric(string Name, Func<ImageMetrics, double> Value, Better Better)
{
    public static readonly IReadOnlyList<ComparedMetric> All =
    [
        new("iou", r => r.Iou, Better.Higher),
        new("dice", r => r.Dice, Better.Higher),
        new("hd95", r => r.Hd95, Better.Lower),
        new("precision", r => r.Precision, Better.Higher),
        new("recall", r => r.Recall, Better.Higher),
        new("specificity", r => r.Specificity, Better.Higher),
    ];

    /// <summary>"iou,dice,hd95" → the metrics, in the order given; an unknown or repeated name is a user error.</summary>
    public static IReadOnlyList<ComparedMetric> Parse(string list)
    {
        var names = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0) throw new UserError($"--metric '{list}': name at least one of {string.Join(", ", All.Select(m => m.Name))}.");
        var chosen = new List<ComparedMetric>();
        foreach (var name in names)
        {
            var metric = All.FirstOrDefault(m => m.Name == name.ToLowerInvariant())
                ?? throw new UserError($"--metric {name}: unknown; use any of {string.Join(", ", All.Select(m => m.Name))}, separated by commas.");
            if (chosen.Contains(metric)) throw new UserError($"--metric {list}: {name} is named twice.");
            chosen.Add(metric);
        }
        return chosen;
    }
}
