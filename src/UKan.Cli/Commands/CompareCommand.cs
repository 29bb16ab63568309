using System.CommandLine;
using System.Globalization;
using UKan.Evaluation;
using UKan.Evaluation.Statistics;

namespace UKan.Cli.Commands;

/// <summary>
/// <c>ukan compare RUN_A RUN_B [...]</c>: the same images scored by several models, each compared with the first
/// per image (paired differences, bootstrap CI, Wilcoxon signed-rank test, wins/ties/losses), as a table and, with
/// --out, CSV, Markdown, JSON and scatter plots.
/// </summary>
static class CompareCommand
{
    static readonly string[] OutputFiles = ["compare.csv", "compare.md", "compare.json", "per_image.csv"];

    public static Command Create()
    {
        var command = new Command("compare",
            "Compare models on the same images, per image: mean difference with a bootstrap 95 % CI, Wilcoxon signed-rank p-value, wins/ties/losses. " +
            "The first model is the reference.");
        var models = new Argument<string[]>("runs")
        {
            Description = "Run folders of 'ukan train' (their best model) or folders of 'ukan cv' (the ensemble of their folds); at least two, the first is the reference. " +
                          "When all are cv folders and neither --data nor --split is given, the test scores the cv folders saved are compared: no model is loaded, the weights may be gone.",
            Arity = ArgumentArity.OneOrMore,
        };
        var data = new Option<string?>("--data") { Description = "Score every model on this dataset folder (default: the runs' own data, which must be the same)." };
        var split = new Option<string?>("--split") { Description = "Score the validation ids of this split.json or the test ids of a 'ukan cv' splits.json (default: each run's own images, which must be the same: a run's validation images, a cv folder's test images)." };
        var metric = new Option<string>("--metric") { Description = "Per-image metrics to compare, comma-separated: iou, dice, hd95, precision, recall, specificity.", DefaultValueFactory = _ => "iou,dice,hd95" };
        var output = new Option<string?>("--out") { Description = "Folder for compare.csv, compare.md, compare.json, per_image.csv and compare_<metric>.png (new, or existing with --overwrite)." };
        var batch = SharedOptions.Batch(8, "Batch size of inference.");
        var resamples = new Option<int>("--bootstrap") { Description = "Bootstrap resamples of the confidence interval.", DefaultValueFactory = _ => BootstrapInterval.DefaultResamples };
        var seed = new Option<long>("--bootstrap-seed") { Description = "Seed of the bootstrap resampling.", DefaultValueFactory = _ => BootstrapInterval.DefaultSeed };
        command.Arguments.Add(models);
        foreach (var o in new Option[] { data, split, metric, output, batch, resamples, seed, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var paths = parsed.GetValue(models)!;
            if (paths.Length < 2) throw new UserError($"give at least two runs to compare (got {paths.Length}); the first one is the reference.");
            foreach (var p in paths)
                if (!EvaluationModel.IsModelFolder(p)) throw new UserError($"{p}: not a run folder of 'ukan train' nor a folder of 'ukan cv'.");
            var twice = paths.GroupBy(p => Path.GetFullPath(p)).FirstOrDefault(g => g.Count() > 1);
            if (twice is not null) throw new UserError($"{twice.Key}: given twice; compare different runs.");
            var metrics = ComparedMetric.Parse(parsed.GetValue(metric)!);
            int b = parsed.GetValue(batch), n = parsed.GetValue(resamples);
            if (b is < 1 or > 1024) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            if (n is < 100 or > 1_000_000) throw new UserError($"--bootstrap {n}: must be between 100 and 1000000.");
            var outDir = parsed.GetValue(output);
            var dataDir = parsed.GetValue(data);
            var splitPath = parsed.GetValue(split);
            bool overwrite = parsed.GetValue(CommandLine.Overwrite);
            if (outDir is not null)
            {
                // Without --data the models are scored on the data they trained on, which is as much an input.
                IEnumerable<string?> datasets = dataDir is null ? paths.Select(EvaluationModel.DataOf) : [dataDir];
                var full = UKan.IO.OutputGuard.CheckFolder(outDir, "--out", paths.Append(splitPath).Concat(datasets));
                foreach (var p in paths)
                    if (UKan.IO.OutputGuard.IsWithin(full, p)) throw new UserError($"--out {outDir}: lies inside the run {p}; write to a folder outside it.");
                UKan.IO.OutputGuard.CheckExisting(full, OutputFiles.Concat(metrics.Select(m => $"compare_{m.Name}.png")), "--out", overwrite);
            }

            bool hd95 = metrics.Any(m => m.Name == "hd95");
            var scored = SavedScoresApply(paths, dataDir, splitPath)
                ? ReadSaved(paths)
                : ScoreAgain(parsed, paths, dataDir, splitPath, b, hd95);
            if (scored.Models.Select(m => (m.Config.Height, m.Config.Width)).Distinct().Count() > 1)
                Console.Error.WriteLine("ukan: warning: the models trained at different sizes; each is scored at its own (masks resized to it), so HD95 in pixels is not comparable between them.");
            var compared = scored.Models;
            var comparison = ModelComparison.Of(compared.Select(m => m.Folder).ToList(), scored.Images, metrics,
                compared.Select(m => m.Rows).ToList(), n, parsed.GetValue(seed));
            for (int i = 0; i < compared.Count; i++)
                Console.WriteLine($"{(i == 0 ? "reference" : $"model {i}")}: {compared[i].Folder} ({compared[i].Description})");
            Console.Write(Table(comparison));
            Console.WriteLine("difference = model − reference per image; CI: percentile bootstrap of the mean difference; p: two-sided Wilcoxon signed-rank test (docs/metrics.md)");
            if (outDir is not null)
            {
                UKan.IO.OutputGuard.CreateFolder(Path.GetFullPath(outDir), outDir, "--out");
                AtomicFile.WriteAllText(Path.Combine(outDir, "compare.csv"), comparison.ToCsv());
                AtomicFile.WriteAllText(Path.Combine(outDir, "compare.md"), comparison.ToMarkdown());
                AtomicFile.WriteAllText(Path.Combine(outDir, "compare.json"), comparison.ToJson());
                AtomicFile.WriteAllText(Path.Combine(outDir, "per_image.csv"), comparison.PerImageCsv());
                foreach (var m in metrics) UKan.Plots.PairedScatter.Save(Path.Combine(outDir, $"compare_{m.Name}.png"), comparison, m);
                Console.WriteLine($"written to {Path.GetFullPath(outDir)}: {string.Join(", ", OutputFiles)}, compare_<metric>.png");
            }
            return 0;
        });
        return command;
    }

    /// <summary>One compared model: its folder, what it is, the settings it trained with and its per-image rows.</summary>
    sealed record ScoredModel(string Folder, string Description, UKan.Training.TrainConfig Config, IReadOnlyList<ImageMetrics> Rows);

    /// <summary>
    /// Whether the saved scores are compared instead of scoring the models again: every folder is a cv folder and no
    /// other images are asked for. A finished cv holds its ensemble's test scores, which are what scoring again would
    /// give; one without them has not finished (<see cref="SavedScores.Load"/> says so).
    /// </summary>
    static bool SavedScoresApply(IReadOnlyList<string> paths, string? data, string? split) =>
        data is null && split is null && paths.All(p => UKan.IO.RunDirectory.Kind(p) == UKan.IO.RunDirectory.CrossValidation);

    /// <summary>The saved test scores of cv folders, which must cover the same images; no model is loaded, no device started.</summary>
    static (EvaluationImages Images, IReadOnlyList<ScoredModel> Models) ReadSaved(IReadOnlyList<string> paths)
    {
        var saved = paths.Select(SavedScores.Load).ToList();
        var first = saved[0].Images;
        for (int i = 1; i < saved.Count; i++)
        {
            if (!saved[i].Images.SameIds(first)) throw NotTheSameImages(paths[i], saved[i].Images, paths[0], first);
            if (saved[i].Images.Data != first.Data)
                Console.Error.WriteLine($"ukan: warning: {paths[i]} was trained on {saved[i].Images.Data}, {paths[0]} on {first.Data}; " +
                                        "their saved scores are paired by image id.");
        }
        Console.WriteLine($"comparing {saved.Count} models from saved scores (scores/ensemble_test_per_image.csv of each cv folder; " +
                          $"no model is loaded): {first.Ids.Count} test images of {first.Data}");
        return (first, saved.Select(s => new ScoredModel(s.Folder, s.Description, s.Config, s.Rows)).ToList());
    }

    /// <summary>Loads every model and scores it on the chosen images (<see cref="ChooseImages"/>).</summary>
    static (EvaluationImages Images, IReadOnlyList<ScoredModel> Models) ScoreAgain(ParseResult parsed, IReadOnlyList<string> paths,
        string? data, string? split, int batch, bool hd95)
    {
        var rt = CommandLine.StartTorch(parsed);
        var opened = new List<EvaluationModel>();
        try
        {
            foreach (var p in paths) opened.Add(EvaluationModel.Open(p, rt.Device));
            var images = ChooseImages(opened, paths, data, split);
            Console.WriteLine($"scoring {opened.Count} models on {images.Ids.Count} images of {images.Data} ({images.Source})");
            return (images, opened.Select(m =>
                new ScoredModel(m.Folder, m.Description, m.Config, m.Score(images, rt.Device, batch, hd95).Meter.Images)).ToList());
        }
        finally
        {
            foreach (var m in opened) m.Dispose();
        }
    }

    static UserError NotTheSameImages(string path, EvaluationImages own, string firstPath, EvaluationImages first)
    {
        int common = own.Ids.Intersect(first.Ids, StringComparer.Ordinal).Count();
        return new UserError($"{path}: its {own.Source} ({own.Ids.Count}) are not those of {firstPath} ({first.Ids.Count}, {common} in common); " +
                             "a paired comparison needs the same images: give --split F (or --data D) to score all on one set.");
    }

    /// <summary>
    /// The images every model is scored on: --data (all images, or those of --split), --split alone on the runs'
    /// common data folder, or else each run's own images, which must be the same for all.
    /// </summary>
    static EvaluationImages ChooseImages(IReadOnlyList<EvaluationModel> models, IReadOnlyList<string> paths, string? data, string? split)
    {
        if (data is null)
        {
            var first = models[0].OwnImages;
            for (int i = 1; i < models.Count; i++)
            {
                var own = models[i].OwnImages;
                if (own.Data != first.Data)
                    throw new UserError($"{paths[i]}: trained on {own.Data}, but {paths[0]} on {first.Data}; give --data D (and --split F) to score both on the same images.");
                if (split is null && !own.SameAs(first)) throw NotTheSameImages(paths[i], own, paths[0], first);
            }
            if (split is null) return first;
            data = first.Data;
        }
        return EvaluationImages.Select(data, split);
    }

    static TextTable Table(ModelComparison comparison)
    {
        static string F(double v, string format) => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);
        var table = new TextTable("model", "metric", "reference", "model", "difference", "95 % CI", "W", "p", "wins/ties/losses");
        foreach (var r in comparison.Rows)
        {
            var s = r.Stats;
            string format = s.Metric == "hd95" ? "F2" : "F4";
            table.Add(Path.GetFileName(r.Model), s.Metric, F(s.ReferenceMean, format), F(s.ModelMean, format), F(s.Difference.Mean, format),
                $"[{F(s.Interval.Low, format)}, {F(s.Interval.High, format)}]", F(s.Wilcoxon.Statistic, "G6"),
                F(s.Wilcoxon.PValue, "G3") + (s.Wilcoxon.Method == WilcoxonMethod.Exact ? " (exact)" : ""), $"{s.Wins}/{s.Ties}/{s.Losses}");
        }
        return table;
    }
}
