using System.CommandLine;
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
        var split = new Option<string?>("--split") { Description = "Evaluate the validation ids of this split.json, or the test ids of a 'ukan cv' splits.json (default: the run's split; for a weights file: every image)." };
        var batch = SharedOptions.Batch(8, "Batch size of the official (batch-pooled) metrics.");
        var jsonOut = new Option<string?>("--json") { Description = "Also write the summary to this JSON file (an existing one is replaced only with --overwrite)." };
        var csv = new Option<string?>("--csv") { Description = "Per-image CSV path (default: eval_per_image.csv in the run folder, or ./eval_per_image.csv; an existing file is replaced only with --overwrite, except the run folder's own)." };
        var inference = new InferenceOptions();
        inference.AddTo(command);
        command.Arguments.Add(target);
        foreach (var o in new Option[] { data, split, batch, csv, jsonOut, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            int b = parsed.GetValue(batch);
            if (b is < 1 or > 1024) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            var path = parsed.GetValue(target)!;
            var resolved = EvaluationTarget.Resolve(path);
            string? splitPath = parsed.GetValue(split) ?? resolved.Split;
            // Outputs are checked before the (long) evaluation: never an input, never an existing file without --overwrite
            // (the per-image CSV a run folder keeps for itself excepted).
            bool overwrite = parsed.GetValue(CommandLine.Overwrite);
            string?[] inputs = [resolved.Weights, splitPath, resolved.RunRoot is null ? null : new UKan.Training.RunFolder(resolved.RunRoot).Config,
                parsed.GetValue(data) ?? resolved.Run?.Data];
            var csvPath = parsed.GetValue(csv) ?? resolved.RunCsv ?? "eval_per_image.csv";
            UKan.IO.OutputGuard.CheckFile(csvPath, "--csv", overwrite, inputs, replaceable: resolved.RunCsv is not null && parsed.GetValue(csv) is null);
            var json = parsed.GetValue(jsonOut);
            if (json is not null)
            {
                UKan.IO.OutputGuard.CheckFile(json, "--json", overwrite, inputs);
                if (Path.GetFullPath(json) == Path.GetFullPath(csvPath)) throw new UserError($"--json {json}: the same file as the per-image CSV; give two different names.");
            }
            var rt = CommandLine.StartTorch(parsed);
            var (net, spec, h, w, preset, resolvedRun) = inference.Resolve(parsed, resolved.Weights, resolved.Run, rt.Device);
            var dataDir = parsed.GetValue(data) ?? resolvedRun?.Data ?? throw new UserError("--data is required when evaluating a weights file.");
            bool labelMaps = spec.Loss == SegmentationLoss.CeDice;
            var images = EvaluationImages.Select(dataDir, splitPath, spec.NumClasses, labelMaps);
            var dataset = new SegmentationDataset(new SegmentationFolder(dataDir, spec.NumClasses, labelMaps), h, w, preset, spec.InChannels);
            if (labelMaps)
            {
                PrintClasses(net, spec, dataset, images, rt.Device, b, h, w, json, csvPath);
                return 0;
            }
            var (summary, meter, _) = Evaluator.Run(net, dataset, images.Ids, rt.Device, b);
            Console.WriteLine($"{spec.Describe()} on {summary.Official.Images} images of {dataDir} ({images.Source}), input {h}x{w}, batches of {b}");
            Console.Write(SummaryTable(summary));
            var pi = summary.PerImage;
            Console.WriteLine($"empty masks: {pi.BothEmpty} image(s) with both empty (scored 1 / HD95 0), {pi.PredictionEmpty} with nothing predicted, {pi.TargetEmpty} with an empty ground truth (HD95 = image diagonal); see docs/metrics.md");
            if (json is not null)
                AtomicFile.WriteAllText(json, UKan.IO.JsonFiles.Serialize(new { model = spec.Describe(), data = dataDir, images = images.Source, size = new[] { h, w }, summary }));
            meter.WriteImagesCsv(csvPath);
            Console.WriteLine($"per-image scores: {Path.GetFullPath(csvPath)}");
            return 0;
        });
        return command;
    }

    /// <summary>Both ways of one evaluation side by side: official (batch-pooled), per-image mean ± std and median.</summary>
    public static TextTable SummaryTable(SegmentationSummary summary)
    {
        var (o, pi) = (summary.Official, summary.PerImage);
        var table = new TextTable("metric", "official (batch-pooled)", "per-image mean ± std", "per-image median");
        table.Add("iou", o.Iou.ToString("F4"), $"{pi.Iou.Mean:F4} ± {pi.Iou.Std:F4}", pi.Iou.Median.ToString("F4"));
        table.Add("dice", o.Dice.ToString("F4"), $"{pi.Dice.Mean:F4} ± {pi.Dice.Std:F4}", pi.Dice.Median.ToString("F4"));
        table.Add("hd95 (px)", o.Hd95.ToString("F2"), $"{pi.Hd95.Mean:F2} ± {pi.Hd95.Std:F2}", pi.Hd95.Median.ToString("F2"));
        table.Add("precision", o.Precision.ToString("F4"), $"{pi.Precision.Mean:F4} ± {pi.Precision.Std:F4}", pi.Precision.Median.ToString("F4"));
        table.Add("recall", o.Recall.ToString("F4"), $"{pi.Recall.Mean:F4} ± {pi.Recall.Std:F4}", pi.Recall.Median.ToString("F4"));
        table.Add("specificity", o.Specificity.ToString("F4"), $"{pi.Specificity.Mean:F4} ± {pi.Specificity.Std:F4}", pi.Specificity.Median.ToString("F4"));
        return table;
    }

    /// <summary>
    /// A softmax (ce-dice) model: every class after the background scored as its own binary problem, a row per class
    /// and their mean (the mean IoU over foreground classes); per-image rows of every class in one CSV.
    /// </summary>
    static void PrintClasses(TorchSharp.torch.nn.Module<TorchSharp.torch.Tensor, TorchSharp.torch.Tensor> net, ModelSpec spec,
        SegmentationDataset dataset, EvaluationImages images, TorchSharp.torch.Device device, int batch, int h, int w, string? json, string csvPath)
    {
        var (classes, _) = Evaluator.RunClasses(net, dataset, images.Ids, device, spec.Loss, batch);
        var table = new TextTable("class", "iou (official)", "dice (official)", "iou per-image mean", "dice per-image mean", "hd95 per-image mean (px)");
        for (int c = 0; c < classes.Count; c++)
        {
            var (o, pi) = (classes[c].Summary.Official, classes[c].Summary.PerImage);
            table.Add((c + 1).ToString(), o.Iou.ToString("F4"), o.Dice.ToString("F4"), pi.Iou.Mean.ToString("F4"), pi.Dice.Mean.ToString("F4"), pi.Hd95.Mean.ToString("F2"));
        }
        table.Add("mean", classes.Average(x => x.Summary.Official.Iou).ToString("F4"), classes.Average(x => x.Summary.Official.Dice).ToString("F4"),
            classes.Average(x => x.Summary.PerImage.Iou.Mean).ToString("F4"), classes.Average(x => x.Summary.PerImage.Dice.Mean).ToString("F4"),
            classes.Average(x => x.Summary.PerImage.Hd95.Mean).ToString("F2"));
        Console.WriteLine($"{spec.Describe()} on {images.Ids.Count} images of {images.Data} ({images.Source}), input {h}x{w}, batches of {batch}; " +
                          "classes 1..C-1 scored (class 0 is the background), each as a binary mask of its predicted class (argmax)");
        Console.Write(table);
        if (json is not null)
            AtomicFile.WriteAllText(json, UKan.IO.JsonFiles.Serialize(new
            {
                model = spec.Describe(), data = images.Data, images = images.Source, size = new[] { h, w },
                mean_iou = classes.Average(x => x.Summary.Official.Iou), mean_dice = classes.Average(x => x.Summary.Official.Dice),
                classes = classes.Select((x, c) => new { @class = c + 1, summary = x.Summary }),
            }));
        SegmentationMeter.WriteImagesCsv(csvPath, classes.Select(x => x.Meter).ToList(), firstClass: 1);
        Console.WriteLine($"per-image scores: {Path.GetFullPath(csvPath)}");
    }
}
