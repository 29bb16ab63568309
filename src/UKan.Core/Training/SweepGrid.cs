using System.Globalization;
using System.Text;

namespace UKan.Training;

/// <summary>
/// A grid of independent training runs (datasets × models × split seeds, as the papers' "mean ± sd over three
/// seeds"), each in its own run folder <c>OUT/&lt;dataset&gt;-&lt;model&gt;-&lt;seed&gt;</c>: what each run still needs
/// (nothing, a resume, a start), and the table of their best validation scores.
/// </summary>
public static class SweepGrid
{
    public sealed record Run(string Dataset, string DataPath, string Model, long Seed, string Folder)
    {
        public string Name => Path.GetFileName(Folder);
    }

    public enum State { New, Resume, Done }

    /// <summary>One run's best validation epoch (by IoU), or null scores when it has none yet.</summary>
    public sealed record Result(Run Run, State State, double? Iou, double? Dice, int? BestEpoch, int EpochsDone);

    /// <summary>One row of the summary: a dataset and model over its seeds.</summary>
    public sealed record Summary(string Dataset, string Model, IReadOnlyList<Result> Runs)
    {
        public IReadOnlyList<double> Ious => Runs.Where(r => r.Iou is not null).Select(r => r.Iou!.Value).ToList();
        public IReadOnlyList<double> Dices => Runs.Where(r => r.Dice is not null).Select(r => r.Dice!.Value).ToList();
    }

    public static IReadOnlyList<Run> Make(IReadOnlyList<(string Name, string Path)> datasets, IReadOnlyList<string> models, IReadOnlyList<long> seeds, string output) =>
        (from d in datasets
         from m in models
         from s in seeds
         select new Run(d.Name, d.Path, m, s, Path.Combine(Path.GetFullPath(output), $"{d.Name}-{m}-{s.ToString(CultureInfo.InvariantCulture)}"))).ToList();

    /// <summary>
    /// Done when the run trained all its epochs (or stopped early by its own rule), Resume when it has a checkpoint,
    /// New otherwise (no folder, or a start that never finished an epoch, which 'ukan train --out' starts again).
    /// </summary>
    public static State StateOf(Run run, int? epochs)
    {
        var folder = new RunFolder(run.Folder);
        if (!File.Exists(folder.Config) || !File.Exists(folder.Last)) return State.New;
        var config = TrainConfig.Load(folder.Config);
        var records = folder.ReadMetrics();
        if (records.Count == 0) return State.Resume;
        int target = epochs ?? config.Epochs, last = records[^1].Epoch;
        var best = records.Where(r => r.Best).Select(r => r.Epoch).DefaultIfEmpty(-1).Max();
        bool earlyStopped = config.EarlyStopping > 0 && best >= 0 && last - best >= config.EarlyStopping;
        return last + 1 >= target || earlyStopped ? State.Done : State.Resume;
    }

    public static Result ResultOf(Run run, int? epochs)
    {
        var state = StateOf(run, epochs);
        var records = new RunFolder(run.Folder).ReadMetrics();
        var best = records.Where(r => r.ValIou is not null).OrderByDescending(r => r.ValIou).ThenBy(r => r.Epoch).FirstOrDefault();
        return new Result(run, state, best?.ValIou, best?.ValDice, best?.Epoch, records.Count);
    }

    public static IReadOnlyList<Summary> Summarize(IEnumerable<Result> results) =>
        results.GroupBy(r => (r.Run.Dataset, r.Run.Model)).Select(g => new Summary(g.Key.Dataset, g.Key.Model, g.ToList())).ToList();

    /// <summary>Mean and sample standard deviation (n − 1; 0 for one value); NaN for none.</summary>
    public static (double Mean, double Sd) MeanSd(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return (double.NaN, double.NaN);
        double mean = values.Average();
        double sd = values.Count < 2 ? 0 : Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
        return (mean, sd);
    }

    static readonly string[] Columns = ["dataset", "model", "runs", "iou_mean", "iou_sd", "dice_mean", "dice_sd", "iou_per_seed", "run_folders"];

    static string[] Cells(Summary s)
    {
        static string F(double v) => double.IsNaN(v) ? "" : v.ToString("F4", CultureInfo.InvariantCulture);
        var (iou, iouSd) = MeanSd(s.Ious);
        var (dice, diceSd) = MeanSd(s.Dices);
        var perSeed = string.Join(' ', s.Runs.Select(r => $"{r.Run.Seed}:{(r.Iou is double v ? F(v) : "-")}"));
        return [s.Dataset, s.Model, $"{s.Ious.Count}/{s.Runs.Count}", F(iou), F(iouSd), F(dice), F(diceSd), perSeed,
            string.Join(' ', s.Runs.Select(r => r.Run.Folder))];
    }

    /// <summary>The summary as CSV (one row per dataset and model; best validation IoU and Dice of each run, mean and sd over seeds).</summary>
    public static string ToCsv(IEnumerable<Summary> rows)
    {
        static string Quote(string c) => c.Contains(',') || c.Contains('"') ? $"\"{c.Replace("\"", "\"\"")}\"" : c;
        var sb = new StringBuilder(string.Join(',', Columns)).Append('\n');
        foreach (var s in rows) sb.Append(string.Join(',', Cells(s).Select(Quote))).Append('\n');
        return sb.ToString();
    }

    /// <summary>The summary as a Markdown table, with the run folders as links.</summary>
    public static string ToMarkdown(IEnumerable<Summary> rows, string relativeTo)
    {
        var sb = new StringBuilder();
        sb.Append("| dataset | model | runs | IoU (mean ± sd) | Dice (mean ± sd) | IoU per seed | run folders |\n");
        sb.Append("| --- | --- | --- | --- | --- | --- | --- |\n");
        foreach (var s in rows)
        {
            var c = Cells(s);
            var links = string.Join(' ', s.Runs.Select(r => $"[{r.Run.Name}]({Path.GetRelativePath(relativeTo, r.Run.Folder)})"));
            sb.Append($"| {c[0]} | {c[1]} | {c[2]} | {c[3]} ± {c[4]} | {c[5]} ± {c[6]} | {c[7]} | {links} |\n");
        }
        return sb.ToString();
    }
}
