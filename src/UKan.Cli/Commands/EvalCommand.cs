using System.CommandLine;
using TorchSharp;
using UKan.Data;
using UKan.Evaluation;
using UKan.Models;

namespace UKan.Cli.Commands;

/// <summary><c>ukan eval RUN|CHECKPOINT --data DIR [--split FILE]</c>: both ways of scoring, a table and a per-image CSV.</summary>
static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "Evaluate a run or a weights file on a dataset: IoU, Dice, precision, recall, specificity, official (batch-pooled) and per-image.");
        var target = new Argument<string>("run-or-weights") { Description = "A run folder (uses its best model, data, split and settings) or a weights file." };
        var data = new Option<string?>("--data") { Description = "Dataset folder (default: the run's)." };
        var split = new Option<string?>("--split") { Description = "Evaluate the validation ids of this split.json (default: the run's split; for a weights file: every image)." };
        var size = new Option<string?>("--size") { Description = "Model input size (default: the run's, else 256)." };
        var preprocessing = new Option<string?>("--preprocessing") { Description = "official or standard (default: the run's, else official)." };
        var batch = new Option<int>("--batch") { Description = "Batch size of the official (batch-pooled) metrics.", DefaultValueFactory = _ => 8 };
        var jsonOut = new Option<string?>("--json") { Description = "Also write the summary to this JSON file." };
        var csv = new Option<string?>("--csv") { Description = "Per-image CSV path (default: eval_per_image.csv in the run folder, or ./eval_per_image.csv)." };
        var model = new ModelOptions();
        model.AddTo(command);
        command.Arguments.Add(target);
        foreach (var o in new Option[] { data, split, size, preprocessing, batch, csv, jsonOut }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var rt = CommandLine.StartTorch(parsed);
            var path = parsed.GetValue(target)!;
            UKan.Training.TrainConfig? runConfig = null;
            string weights = path, csvDefault = "eval_per_image.csv";
            string? splitPath = parsed.GetValue(split);
            if (Directory.Exists(path))
            {
                var run = new UKan.Training.RunFolder(path);
                if (!File.Exists(run.Config)) throw new UserError($"{path}: not a run folder (no config.json); pass a run folder or a weights file.");
                runConfig = UKan.Training.TrainConfig.FromJson(File.ReadAllText(run.Config));
                weights = File.Exists(run.ExportedModel) ? run.ExportedModel : throw new UserError($"{path}: the run has no model.safetensors yet (no epoch finished).");
                splitPath ??= run.Split;
                csvDefault = Path.Combine(run.Root, "eval_per_image.csv");
            }
            else runConfig = RunSettings.Near(path);
            bool explicitModel = parsed.GetResult(model.Preset) is { Implicit: false } || parsed.GetResult(model.EmbedDims) is { Implicit: false };
            var (net, spec) = ModelLoader.Load(weights, explicitModel || weights.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) ? model.Resolve(parsed) : null);
            net.to(rt.Device);
            var dataDir = parsed.GetValue(data) ?? runConfig?.Data ?? throw new UserError("--data is required when evaluating a weights file.");
            var (h, w) = parsed.GetValue(size) is string s ? TrainCommand.ParseSize(s) : (runConfig?.Height ?? 256, runConfig?.Width ?? 256);
            var preset = parsed.GetValue(preprocessing) is string p ? Preprocessing.Parse(p) : runConfig?.Preprocessing ?? PreprocessingPreset.Official;
            if (!Directory.Exists(dataDir)) throw new UserError($"--data {dataDir}: folder not found.");
            var folder = new SegmentationFolder(dataDir, spec.NumClasses);
            IReadOnlyList<string> ids = folder.Ids;
            if (splitPath is not null)
            {
                var sp = DataSplit.Load(splitPath);
                sp.CheckAgainst(folder.Ids, dataDir);
                ids = sp.Validation;
            }
            var dataset = new SegmentationDataset(folder, h, w, preset, spec.InChannels);
            var report = Evaluator.Run(net, dataset, ids, rt.Device, Math.Max(1, parsed.GetValue(batch)));
            var table = new TextTable("metric", "official (batch-pooled)", "per-image mean");
            foreach (var k in new[] { "iou", "dice", "precision", "recall", "specificity", "hd95" })
                table.Add(k, report.Official[k].ToString("F4"), report.PerImage[k].ToString("F4"));
            Console.WriteLine($"{spec.Describe()} on {report.Images} images of {dataDir} ({(splitPath is null ? "all images" : "validation ids of " + splitPath)}), input {h}x{w}");
            Console.Write(table);
            Console.WriteLine($"per-image: IoU {report.PerImage["iou"]:F4} ± {report.PerImage["iou_std"]:F4}, HD95 median {report.PerImage["hd95_median"]:F2} px; {report.PerImage["one_empty"]} image(s) with exactly one of prediction and ground truth empty (HD95 = image diagonal)");
            var json = parsed.GetValue(jsonOut);
            if (json is not null)
                AtomicFile.WriteAllText(json, System.Text.Json.JsonSerializer.Serialize(new { model = spec.Describe(), images = report.Images, official = report.Official, per_image = report.PerImage }, new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            var csvPath = parsed.GetValue(csv) ?? csvDefault;
            report.WriteCsv(csvPath);
            Console.WriteLine($"per-image scores: {Path.GetFullPath(csvPath)}");
            return 0;
        });
        return command;
    }
}
