using System.CommandLine;
using TorchSharp;
using UKan.Data;
using UKan.Evaluation;
using UKan.Models;
using UKan.Training;

namespace UKan.Cli.Commands;

/// <summary>
/// <c>ukan demo</c>: the whole workflow on the embedded Kvasir-SEG subset (48 polyp images, CC BY 4.0): train a
/// small U-KAN on the CPU in a few minutes, evaluate it both ways, and segment the held-out images.
/// </summary>
static class DemoCommand
{
    /// <summary>The demo's settings: a tiny U-KAN at 128×128 so that 2 CPU cores finish in minutes.</summary>
    public static TrainConfig Settings(string data, string output, int epochs) => new()
    {
        Data = data,
        Output = output,
        Model = new ModelSpec { EmbedDims = ModelPresets.Resolve("tiny"), Preset = "tiny" },
        Epochs = epochs,
        Batch = 4,
        Height = 128,
        Width = 128,
        // Standard preprocessing and a higher base learning rate than the paper's: the official ±0.01 inputs and
        // lr 1e-4 need hundreds of epochs, a demo has a few dozen.
        Preprocessing = PreprocessingPreset.Standard,
        Lr = 2e-3,
        KanLr = 1e-2,
        MinLr = 1e-4,
        DataSeed = 2981,
        OverlaySamples = 12,
    };

    public static Command Create()
    {
        var command = new Command("demo", "Train, evaluate and predict on the embedded demo dataset (Kvasir-SEG subset) in a few minutes on a CPU.");
        var output = new Option<string>("--out") { Description = "Folder for the demo run.", DefaultValueFactory = _ => Path.Combine("runs", "demo") };
        var epochs = new Option<int>("--epochs") { Description = "Epochs.", DefaultValueFactory = _ => 80 };
        command.Options.Add(output);
        command.Options.Add(epochs);
        command.SetAction(parsed =>
        {
            var rt = CommandLine.StartTorch(parsed);
            var data = FindDemoData();
            var outDir = Path.GetFullPath(parsed.GetValue(output)!);
            if (Directory.Exists(outDir) && File.Exists(Path.Combine(outDir, "config.json")))
                Directory.Delete(outDir, recursive: true);   // the demo always starts fresh in its own folder
            var config = Settings(data, outDir, parsed.GetValue(epochs));
            Console.WriteLine($"U-KAN demo: {config.Model.Describe()} at {config.Height}x{config.Width} on {data} ({rt.Device}, {config.Epochs} epochs)");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var result = new ConsoleProgress().Run(p => Trainer.Start(config, p));

            var run = new RunFolder(outDir);
            var (model, spec) = ModelLoader.Load(run.ExportedModel);
            model.to(rt.Device);
            var split = DataSplit.Load(run.Split);
            var folder = new SegmentationFolder(data);
            var dataset = new SegmentationDataset(folder, config.Height, config.Width, config.Preprocessing);
            var (summary, meter, _) = Evaluator.Run(model, dataset, split.Validation, rt.Device);
            meter.WriteImagesCsv(Path.Combine(outDir, "eval_per_image.csv"));

            var predictions = Path.Combine(outDir, "predictions");
            Directory.CreateDirectory(predictions);
            var inference = new Inference(model, config.Height, config.Width, config.Preprocessing, 3, rt.Device);
            var images = split.Validation.Select(id => folder.LoadImage(id, Preprocessing.Order(config.Preprocessing))).ToList();
            var probs = inference.Probabilities(images);
            for (int i = 0; i < images.Count; i++)
            {
                var mask = probs[i][0].contiguous().data<float>().ToArray().Select(v => v > 0.5f ? (byte)1 : (byte)0).ToArray();
                ImageFile.WritePng(Path.Combine(predictions, split.Validation[i] + ".png"), Mask.BinaryImage(mask, images[i].Width, images[i].Height));
                ImageFile.WritePng(Path.Combine(predictions, split.Validation[i] + "_overlay.png"),
                    UKan.Plots.Overlays.Tile(folder.LoadImage(split.Validation[i], ChannelOrder.Rgb), mask, folder.LoadMask(split.Validation[i]).Binary));
            }
            Console.WriteLine();
            Console.WriteLine($"held-out images: {summary.PerImage.Images}; IoU {summary.PerImage.Iou.Mean:F3} (per-image mean), {summary.Official.Iou:F3} (official, batch-pooled); Dice {summary.PerImage.Dice.Mean:F3}; HD95 {summary.PerImage.Hd95.Median:F1} px (median); best epoch {result.BestEpoch + 1}; {clock.Elapsed.TotalMinutes:F1} min");
            Console.WriteLine($"run folder:   {outDir}");
            Console.WriteLine($"  curves:     {run.Curves}");
            Console.WriteLine($"  overlays:   {run.Overlays}");
            Console.WriteLine($"  weights:    {run.ExportedModel}");
            Console.WriteLine($"  per-image:  {Path.Combine(outDir, "eval_per_image.csv")}");
            Console.WriteLine($"  predicted masks and overlays of the held-out images: {predictions}");
            return 0;
        });
        return command;
    }

    /// <summary>data/demo/kvasir-seg-48 of the repository the app was built from (searched upwards from the app).</summary>
    internal static string FindDemoData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "data", "demo", "kvasir-seg-48");
            if (Directory.Exists(Path.Combine(candidate, "images"))) return candidate;
        }
        var cwd = Path.GetFullPath(Path.Combine("data", "demo", "kvasir-seg-48"));
        if (Directory.Exists(cwd)) return cwd;
        throw new UserError("the demo dataset (data/demo/kvasir-seg-48) was not found; run ukan from the repository (./ukan demo).");
    }
}
