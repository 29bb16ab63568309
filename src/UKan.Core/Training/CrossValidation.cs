using TorchSharp;
using System.Globalization;
using System.Text;
using UKan.Data;
using UKan.Evaluation;
using UKan.IO;
using UKan.Models;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>What <see cref="CrossValidation.Run"/> ended with: the summary, or a stop (Ctrl+C) after some folds.</summary>
public sealed record CrossValidationResult(string Folder, int FoldsDone, bool Stopped, CrossValidationSummary? Summary);

/// <summary>
/// k-fold cross-validation with a held-out test set, the protocol nnU-Net popularised (Isensee et al., Nature Methods
/// 2021): the test images are set aside first (<see cref="CrossValidationSplit"/>); each fold trains with the
/// normal <see cref="Trainer"/> in its own run folder (fold-k), keeps the epoch with the best validation IoU on its
/// own validation images, and that model is scored once on the test images; finally the fold models' averaged
/// probabilities are scored on the test images as one ensemble. No number comes from images used to pick an epoch,
/// unlike the official recipe, which reports the best epoch's score on the validation images it was picked on.
/// </summary>
/// <remarks>
/// Resumable: running it again with the same settings and folder skips finished folds, continues a fold from its
/// last checkpoint and restarts one that never finished an epoch; different settings are refused. The folder is
/// locked while it runs.
/// </remarks>
public static class CrossValidation
{
    public const string SettingsFile = "cv.json";
    public const string SplitsFile = "splits.json";
    public const string SummaryFile = "cv_summary";

    public static string FoldFolder(string root, int fold) => Path.Combine(root, $"fold-{fold}");
    static string FoldSplit(string root, int fold) => Path.Combine(root, "splits", $"fold-{fold}.json");
    static string Scores(string root) => Path.Combine(root, "scores");
    /// <summary>The per-image scores of the folds' ensemble on the test images (<see cref="SegmentationMeter.WriteImagesCsv(string)"/>).</summary>
    public static string EnsembleTestScores(string root) => Path.Combine(Scores(root), "ensemble_test_per_image.csv");

    public static CrossValidationResult Run(CrossValidationConfig config, ITrainingProgress progress, CancellationToken cancel = default)
    {
        CrossValidationSplit.CheckSettings(config.Folds, config.TestFraction);
        var train = config.Train;
        train.Validate();
        // The fold ensemble averages sigmoid probabilities (Evaluator.RunEnsemble); label maps are not read here.
        if (train.Model.Loss == SegmentationLoss.CeDice)
            throw new UserError("--loss ce-dice: cross-validation scores its fold ensemble with sigmoid probabilities, so it takes bce-dice models only "
                                + "for now; train a ce-dice model with 'ukan train' and score it with 'ukan eval'.");
        var root = Path.GetFullPath(train.Output);
        Trainer.RequireDataFolder(train.Data);
        var folder = new SegmentationFolder(train.Data, train.Model.NumClasses);
        var splits = config.SplitFile is null
            ? CrossValidationSplit.Make(folder.Ids, train.DataSeed, config.Folds, config.TestFraction)
            : CrossValidationSplit.Load(config.SplitFile);
        if (splits.Folds.Count != config.Folds)
            throw new UserError($"--folds {config.Folds}: the split file {config.SplitFile} has {splits.Folds.Count} folds; drop --folds or give {splits.Folds.Count}.");
        splits.CheckAgainst(folder.Ids, train.Data);
        foreach (var fold in splits.Folds) Trainer.StepsPerEpoch(fold, train.Batch);
        OutputGuard.CheckFolder(root, "--out", [train.Data, config.SplitFile]);
        config = config with { Train = train with { Output = root, Split = null }, TestFraction = splits.TestFraction };

        bool resuming = RunDirectory.Kind(root) == RunDirectory.CrossValidation;
        RunLock runLock;
        bool created = false;
        if (resuming)
        {
            runLock = RunDirectory.OpenExisting(root, RunDirectory.CrossValidation, "--out");
            try { CheckSame(root, config, splits); }
            catch { runLock.Dispose(); throw; }
        }
        else (runLock, created) = RunDirectory.CreateNew(root, RunDirectory.CrossValidation, () => false);
        using (runLock)
        {
            try
            {
                if (!resuming)
                {
                    AtomicFile.WriteAllText(Path.Combine(root, SettingsFile), config.ToJson());
                    splits.Save(Path.Combine(root, SplitsFile));
                    Directory.CreateDirectory(Path.Combine(root, "splits"));
                    for (int k = 0; k < splits.Folds.Count; k++) splits.Folds[k].Save(FoldSplit(root, k));
                }
                for (int k = 0; k < splits.Folds.Count; k++)
                {
                    var foldConfig = config.Train with { Output = FoldFolder(root, k), Split = FoldSplit(root, k) };
                    var run = new RunFolder(foldConfig.Output);
                    if (Finished(run, foldConfig))
                    {
                        progress.Message($"fold {k}: finished earlier, skipped ({run.Root})");
                        continue;
                    }
                    bool resume = File.Exists(run.Last);
                    progress.Message($"fold {k} of {splits.Folds.Count}: {(resume ? "continuing" : "training")} in {run.Root} " +
                                     $"({splits.Folds[k].Train.Count} training, {splits.Folds[k].Validation.Count} validation images)");
                    var result = resume ? Trainer.Resume(run.Root, null, progress, cancel) : Trainer.Start(foldConfig, progress, cancel);
                    if (result.Stopped) return new CrossValidationResult(root, k, true, null);
                }
            }
            catch when (!resuming && !Enumerable.Range(0, splits.Folds.Count).Any(k => File.Exists(new RunFolder(FoldFolder(root, k)).Last)))
            {
                // Nothing worth keeping: no partial cv folder is left behind.
                RunDirectory.Discard(root, runLock, created);
                throw;
            }
            progress.Message("scoring the fold models and their ensemble on the test images");
            var summary = Evaluate(root, config, folder, splits);
            WriteSummary(root, summary);
            return new CrossValidationResult(root, splits.Folds.Count, false, summary);
        }
    }

    /// <summary>Refuses to continue a cv folder with other settings or other splits than it was started with.</summary>
    static void CheckSame(string root, CrossValidationConfig config, CrossValidationSplit splits)
    {
        var stored = CrossValidationConfig.Load(Path.Combine(root, SettingsFile));
        if (stored.FirstDifference(config) is string difference)
            throw new UserError($"--out {root}: holds a cv started with other settings ({difference}); give the same options to continue it, or choose another --out.");
        var storedSplits = CrossValidationSplit.Load(Path.Combine(root, SplitsFile), "--out");
        if (!storedSplits.Test.SequenceEqual(splits.Test) || !storedSplits.Folds.Zip(splits.Folds).All(p => p.First.Validation.SequenceEqual(p.Second.Validation)))
            throw new UserError($"--out {root}: its splits.json differs from the splits these options give (the data or the split file changed); choose another --out.");
    }

    /// <summary>A fold is finished when its last epoch (or its early stop) is in metrics.csv and its best model is exported.</summary>
    static bool Finished(RunFolder run, TrainConfig config)
    {
        if (!File.Exists(run.ExportedModel) || !File.Exists(run.Last)) return false;
        var records = run.ReadMetrics();
        if (records.Count == 0) return false;
        int last = records[^1].Epoch;
        if (last >= config.Epochs - 1) return true;
        int best = records.LastOrDefault(r => r.Best)?.Epoch ?? -1;
        return config.EarlyStopping > 0 && best >= 0 && last - best >= config.EarlyStopping;
    }

    /// <summary>Loads the fold models (each run's best epoch) of a finished cv folder onto <paramref name="device"/>.</summary>
    public static List<nn.Module<Tensor, Tensor>> LoadFoldModels(string root, int folds, Device device)
    {
        var models = new List<nn.Module<Tensor, Tensor>>();
        for (int k = 0; k < folds; k++)
        {
            var weights = new RunFolder(FoldFolder(root, k)).ExportedModel;
            if (!File.Exists(weights)) throw new UserError($"{root}: fold {k} has no model yet; finish the cv by running the same 'ukan cv' command again.");
            models.Add(ModelLoader.Load(weights).Model.to(device));
        }
        return models;
    }

    static CrossValidationSummary Evaluate(string root, CrossValidationConfig config, SegmentationFolder folder, CrossValidationSplit splits)
    {
        var device = TorchRuntime.Current.Device;
        var train = config.Train;
        var models = LoadFoldModels(root, splits.Folds.Count, device);
        try
        {
            var dataset = new SegmentationDataset(folder, train.Height, train.Width, train.Preprocessing, train.Model.InChannels);
            Directory.CreateDirectory(Scores(root));
            var folds = new List<CrossValidationFold>();
            var outOfFold = new List<ImageMetrics>();
            for (int k = 0; k < models.Count; k++)
            {
                var split = splits.Folds[k];
                var (validation, validationMeter, _) = Evaluator.Run(models[k], dataset, split.Validation, device, train.Batch);
                var (test, testMeter, _) = Evaluator.Run(models[k], dataset, splits.Test, device, train.Batch);
                validationMeter.WriteImagesCsv(Path.Combine(Scores(root), $"fold-{k}_validation_per_image.csv"));
                testMeter.WriteImagesCsv(Path.Combine(Scores(root), $"fold-{k}_test_per_image.csv"));
                outOfFold.AddRange(validationMeter.Images);
                var records = new RunFolder(FoldFolder(root, k)).ReadMetrics();
                folds.Add(new CrossValidationFold(k, split.Train.Count, split.Validation.Count, records.Count == 0 ? 0 : records[^1].Epoch + 1,
                    records.LastOrDefault(r => r.Best)?.Epoch ?? -1, validation, test));
            }
            var (ensemble, ensembleMeter) = Evaluator.RunEnsemble(models, dataset, splits.Test, device, train.Batch);
            ensembleMeter.WriteImagesCsv(EnsembleTestScores(root));
            return new CrossValidationSummary(train.Model.Describe(), train.Data, models.Count, splits.Test.Count, splits.Seed, splits.TestFraction,
                folds, FoldSpread.Of(folds.Select(f => f.Test).ToList()), SegmentationMeter.SummarizePerImage(outOfFold), ensemble);
        }
        finally
        {
            foreach (var m in models) m.Dispose();
        }
    }

    /// <summary>One row per fold (validation and test), then the spread over folds, the pooled validation and the ensemble.</summary>
    public static IReadOnlyList<string[]> SummaryRows(CrossValidationSummary s)
    {
        static string F(double v, string format = "F4") => v.ToString(format, CultureInfo.InvariantCulture);
        static string[] Row(string scope, string images, SegmentationSummary x) =>
            [scope, images, F(x.Official.Iou), F(x.Official.Dice), F(x.PerImage.Iou.Mean), F(x.PerImage.Dice.Mean), F(x.PerImage.Hd95.Mean, "F2")];
        var rows = new List<string[]>();
        foreach (var f in s.PerFold)
        {
            rows.Add(Row($"fold-{f.Fold} validation (best epoch {f.BestEpoch + 1})", f.ValidationImages.ToString(CultureInfo.InvariantCulture), f.Validation));
            rows.Add(Row($"fold-{f.Fold} test", s.TestImages.ToString(CultureInfo.InvariantCulture), f.Test));
        }
        var t = s.TestAcrossFolds;
        rows.Add(["test, mean over folds", s.TestImages.ToString(CultureInfo.InvariantCulture), F(t.OfficialIou.Mean), F(t.OfficialDice.Mean),
            F(t.PerImageIou.Mean), F(t.PerImageDice.Mean), F(t.PerImageHd95.Mean, "F2")]);
        rows.Add(["test, sd over folds", s.TestImages.ToString(CultureInfo.InvariantCulture), F(t.OfficialIou.Std), F(t.OfficialDice.Std),
            F(t.PerImageIou.Std), F(t.PerImageDice.Std), F(t.PerImageHd95.Std, "F2")]);
        var p = s.PooledValidation;
        rows.Add(["validation, pooled out-of-fold", p.Images.ToString(CultureInfo.InvariantCulture), "", "", F(p.Iou.Mean), F(p.Dice.Mean), F(p.Hd95.Mean, "F2")]);
        rows.Add(Row("test, ensemble of the folds", s.TestImages.ToString(CultureInfo.InvariantCulture), s.EnsembleTest));
        return rows;
    }

    public static readonly string[] SummaryHeader =
        ["scope", "images", "iou_official", "dice_official", "iou_per_image", "dice_per_image", "hd95_per_image"];

    static void WriteSummary(string root, CrossValidationSummary s)
    {
        var rows = SummaryRows(s);
        var csv = new StringBuilder(string.Join(',', SummaryHeader)).Append('\n');
        foreach (var r in rows) csv.AppendJoin(',', r.Select(c => c.Contains(',') ? $"\"{c}\"" : c)).Append('\n');
        var md = new StringBuilder($"# Cross-validation: {s.Model}\n\n")
            .Append($"{s.Folds} folds on {s.Data}; {s.TestImages} held-out test images (seed {s.Seed}, test fraction {s.TestFraction.ToString(CultureInfo.InvariantCulture)}). ")
            .Append("Each fold's best epoch is chosen on its own validation images; test numbers come from images no fold trained or chose an epoch on. ")
            .Append("Official = batch-pooled as the U-KAN code; per-image = mean over images; HD95 in pixels (docs/metrics.md).\n\n")
            .Append("| ").AppendJoin(" | ", SummaryHeader).Append(" |\n|").AppendJoin("|", SummaryHeader.Select(_ => "---")).Append("|\n");
        foreach (var r in rows) md.Append("| ").AppendJoin(" | ", r).Append(" |\n");
        AtomicFile.WriteAllText(Path.Combine(root, SummaryFile + ".json"), UKan.IO.JsonFiles.Serialize(s));
        AtomicFile.WriteAllText(Path.Combine(root, SummaryFile + ".csv"), csv.ToString());
        AtomicFile.WriteAllText(Path.Combine(root, SummaryFile + ".md"), md.ToString());
    }
}
