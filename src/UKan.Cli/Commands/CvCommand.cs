using System.CommandLine;
using UKan.Data;
using UKan.Training;

namespace UKan.Cli.Commands;

/// <summary>
/// <c>ukan cv --data D --out DIR [--folds 5] [--test-fraction 0.2] [recipe options]</c>: k-fold cross-validation with a
/// held-out test set (<see cref="CrossValidation"/>); running it again with the same options continues it.
/// </summary>
static class CvCommand
{
    const int DefaultFolds = 5;
    const double DefaultTestFraction = 0.2;

    public static Command Create()
    {
        var command = new Command("cv",
            "k-fold cross-validation with a held-out test set: each fold trains (best epoch on its validation images) and is scored once on the test images; " +
            "then the ensemble of the fold models. Run it again with the same options to continue.");
        var data = new Option<string?>("--data") { Description = "Dataset folder: images/<id>.<ext> and masks/0/<id>.<ext>." };
        var output = new Option<string?>("--out") { Description = "The cv folder: splits, one run folder per fold (fold-k), scores and cv_summary.{json,csv,md}. An existing cv folder is continued." };
        var folds = new Option<int?>("--folds") { Description = $"Number of folds (default {DefaultFolds}, or the split file's)." };
        var testFraction = new Option<double?>("--test-fraction") { Description = $"Share of images held out as the test set before the folds are made (default {DefaultTestFraction})." };
        var splitFile = new Option<string?>("--split-file") { Description = "Reuse the splits.json of another cv (same test set and folds, e.g. to compare models) instead of making them from --data-seed." };
        var recipe = new TrainOptions(resumable: false);
        recipe.AddTo(command);
        foreach (var o in new Option[] { data, output, folds, testFraction, splitFile }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var dataDir = parsed.GetValue(data) ?? throw new UserError("--data is required: the dataset to cross-validate on.");
            var outDir = parsed.GetValue(output) ?? throw new UserError("--out is required: the cv folder (give the same one again to continue a cv).");
            var file = parsed.GetValue(splitFile);
            int k = parsed.GetValue(folds) ?? (file is not null && File.Exists(file) && CrossValidationSplit.IsOne(file)
                ? CrossValidationSplit.Load(file).Folds.Count : DefaultFolds);
            double fraction = parsed.GetValue(testFraction) ?? DefaultTestFraction;
            if (file is not null && parsed.GetValue(testFraction) is not null)
                throw new UserError("--test-fraction: the split file fixes the test set; drop --test-fraction.");
            CrossValidationSplit.CheckSettings(k, fraction);
            var rt = CommandLine.StartTorch(parsed);
            var config = new CrossValidationConfig
            {
                Train = recipe.Resolve(parsed, dataDir, outDir, rt.Device),
                Folds = k,
                TestFraction = fraction,
                SplitFile = file is null ? null : Path.GetFullPath(file),
            };
            using var cancel = CommandLine.StopOnCtrlC("step");
            Console.WriteLine($"{k}-fold cross-validation of {config.Train.Model.Describe()} on {config.Train.Data} ({rt.Device}), cv folder {config.Train.Output}");
            var result = new ConsoleProgress().Run(p => CrossValidation.Run(config, p, cancel.Token));
            if (result.Stopped || result.Summary is null)
            {
                Console.WriteLine($"stopped in fold {result.FoldsDone}; continue with the same 'ukan cv' command (same --out and options).");
                return 130;
            }
            var table = new TextTable(CrossValidation.SummaryHeader);
            foreach (var row in CrossValidation.SummaryRows(result.Summary)) table.Add(row);
            Console.Write(table);
            Console.WriteLine($"written to {result.Folder}: cv_summary.json, cv_summary.csv, cv_summary.md, splits.json, scores/*_per_image.csv, fold-*/ (one run each)");
            Console.WriteLine($"report the ensemble's test numbers; compare two cv folders on their common test images with 'ukan compare CV_A CV_B' (see docs/metrics.md)");
            return 0;
        });
        return command;
    }
}
