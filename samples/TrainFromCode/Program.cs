// Trains a small U-KAN from code on a dataset folder (images/ and masks/0/, e.g. the repository's
// data/demo/kvasir-seg-48), then segments the first validation image with the result.
//
//   TrainFromCode DATA RUN_FOLDER [EPOCHS]
//
// The settings are those of "ukan demo" at a smaller size: a tiny U-KAN (embed dims 32/40/64) at 64x64, so that the
// default 20 epochs take seconds on an idle 2-core CPU. Drop Model/Height/Width/Lr to get the official recipe instead.
using UKan;
using UKan.Data;
using UKan.Models;
using UKan.Training;

if (args.Length is < 2 or > 3 || (args.Length == 3 && !int.TryParse(args[2], out _)))
{
    Console.Error.WriteLine("usage: TrainFromCode DATA RUN_FOLDER [EPOCHS]");
    return 2;
}
var config = new TrainConfig
{
    Data = args[0],
    Output = args[1],
    Epochs = args.Length == 3 ? int.Parse(args[2]) : 20,
    Model = new ModelSpec { EmbedDims = ModelPresets.Resolve("tiny"), Preset = "tiny" },
    Batch = 4,
    Height = 64,
    Width = 64,
    Preprocessing = PreprocessingPreset.Standard,
    Lr = 2e-3,
    MinLr = 1e-4,
};
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };   // Ctrl+C: stop after the current step
try
{
    TrainResult result = Trainer.Start(config, new EpochLines(), stop.Token);
    var run = new RunFolder(result.RunFolder);
    Console.WriteLine($"{result.EpochsDone} epoch(s), best validation IoU {result.BestIou:F3} (epoch {result.BestEpoch + 1}); weights: {run.ExportedModel}");

    // The trained model, used as any other: the first validation image of the run's split.
    var firstValidation = DataSplit.Load(run.Split).Validation[0];
    var image = ImageFile.ListImages(Path.Combine(config.Data, "images"))
        .First(f => Path.GetFileNameWithoutExtension(f) == firstValidation);
    using var segmenter = Segmenter.Load(run.Root);
    var prediction = segmenter.Predict(image);
    Console.WriteLine($"{Path.GetFileName(image)}: {prediction.ForegroundFraction:P1} foreground");
    return 0;
}
catch (UserError e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

/// <summary>One line per epoch, as metrics.csv gets it.</summary>
sealed class EpochLines : ITrainingProgress
{
    public void Message(string text) => Console.WriteLine(text);
    public void EpochStarted(int epoch, int totalEpochs, int steps) { }
    public void StepDone(int epoch, int step, int steps, double loss) { }
    public void EpochDone(EpochRecord r, int totalEpochs) =>
        Console.WriteLine($"epoch {r.Epoch + 1}/{totalEpochs}: loss {r.Loss:F4}, validation IoU {r.ValIou:F3}, {r.Seconds:F1} s{(r.Best ? " (best)" : "")}");
}
