using TorchSharp;
using UKan.Data;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Training;

public class TrainerTests
{
    static TrainConfig Config(string data, string output, int epochs) => new()
    {
        Data = data, Output = output, Epochs = epochs, Batch = 4, Height = 64, Width = 64,
        Model = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" },
        Lr = 1e-3, OverlaySamples = 4,
    };

    static string TempRun() => Path.Combine(Path.GetTempPath(), $"ukan-run-{Guid.NewGuid():N}");

    [Fact]
    public void A_resumed_run_is_bit_identical_to_an_uninterrupted_one_on_the_CPU()
    {
        _ = TestTorch.Runtime;
        var data = SyntheticDataset.Create();
        var straight = TempRun();
        var interrupted = TempRun();
        Trainer.Start(Config(data, straight, 3), SilentProgress.Instance, TestContext.Current.CancellationToken);
        Trainer.Start(Config(data, interrupted, 1), SilentProgress.Instance, TestContext.Current.CancellationToken);
        var resumed = Trainer.Resume(interrupted, 3, SilentProgress.Instance, TestContext.Current.CancellationToken);
        Assert.Equal(3, resumed.EpochsDone);

        var (a, sa) = TrainingCheckpoint.Read(new RunFolder(straight).Last);
        var (b, sb) = TrainingCheckpoint.Read(new RunFolder(interrupted).Last);
        Assert.Equal(sa.Epoch, sb.Epoch);
        Assert.Equal(sa.Steps, sb.Steps);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (key, value) in a)
            Assert.True(value.to(float64).sub(b[key].to(float64)).abs().max().item<double>() == 0, $"{key} differs after resume");
        // The metrics of the resumed run continue the interrupted one's.
        Assert.Equal([0, 1, 2], new RunFolder(interrupted).ReadMetrics().Select(r => r.Epoch).ToArray());
    }

    [Fact]
    public void A_run_folder_holds_config_split_metrics_checkpoints_and_pictures()
    {
        _ = TestTorch.Runtime;
        var data = SyntheticDataset.Create();
        var output = TempRun();
        var result = Trainer.Start(Config(data, output, 2), SilentProgress.Instance, TestContext.Current.CancellationToken);
        var run = new RunFolder(output);
        foreach (var file in new[] { run.Config, run.Split, run.Metrics, run.Last, run.Best, run.ExportedModel, run.Curves, run.Overlays })
            Assert.True(File.Exists(file), $"{file} missing");
        Assert.True(Directory.EnumerateFiles(run.Events).Any(), "no TensorBoard events");
        var split = DataSplit.Load(run.Split);
        Assert.Equal(3, split.Validation.Count);           // ceil(0.2 · 12)
        Assert.Equal(9, split.Train.Count);
        Assert.Empty(split.Train.Intersect(split.Validation));
        Assert.InRange(result.BestIou, 0, 1);
        // model.safetensors rebuilds the model with the official key names.
        var (model, spec) = ModelLoader.Load(run.ExportedModel);
        Assert.Equal([32, 40, 64], spec.EmbedDims);
        Assert.Contains("block1.0.layer.fc1.spline_weight", model.state_dict().Keys);
        // No temporary files are left behind by the atomic writes.
        Assert.Empty(Directory.EnumerateFiles(output, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void An_existing_run_is_never_overwritten()
    {
        _ = TestTorch.Runtime;
        var data = SyntheticDataset.Create(count: 8);
        var output = TempRun();
        Trainer.Start(Config(data, output, 1), SilentProgress.Instance, TestContext.Current.CancellationToken);
        var before = File.ReadAllBytes(new RunFolder(output).Last);
        var e = Assert.Throws<UserError>(() => Trainer.Start(Config(data, output, 1), SilentProgress.Instance, TestContext.Current.CancellationToken));
        Assert.Contains("--resume", e.Message);
        Assert.Equal(before, File.ReadAllBytes(new RunFolder(output).Last));
    }

    [Fact]
    public void A_diverging_loss_stops_with_a_user_error_and_keeps_the_last_good_checkpoint()
    {
        _ = TestTorch.Runtime;
        var data = SyntheticDataset.Create(count: 8);
        var output = TempRun();
        var e = Assert.Throws<UserError>(() => Trainer.Start(Config(data, output, 3) with { Lr = 1e12, KanLr = 1e12 }, SilentProgress.Instance, TestContext.Current.CancellationToken));
        Assert.Contains("lower them", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Data_on_the_device_trains_exactly_as_data_on_the_host()
    {
        _ = TestTorch.Runtime;
        var data = SyntheticDataset.Create(count: 10);
        var host = TempRun();
        var onDevice = TempRun();
        Trainer.Start(Config(data, host, 2) with { DataPlacement = DataPlacement.Host }, SilentProgress.Instance, TestContext.Current.CancellationToken);
        Trainer.Start(Config(data, onDevice, 2) with { DataPlacement = DataPlacement.Device }, SilentProgress.Instance, TestContext.Current.CancellationToken);
        var (a, _) = TrainingCheckpoint.Read(new RunFolder(host).Last);
        var (b, _) = TrainingCheckpoint.Read(new RunFolder(onDevice).Last);
        foreach (var (key, value) in a)
            Assert.True(value.to(float64).sub(b[key].to(float64)).abs().max().item<double>() == 0, $"{key} differs between the data paths");
        Assert.Equal(new RunFolder(host).ReadMetrics().Select(r => (r.Loss, r.ValIou)), new RunFolder(onDevice).ReadMetrics().Select(r => (r.Loss, r.ValIou)));
    }

    [Fact]
    public void Validation_scores_on_the_device_equal_the_evaluator()
    {
        _ = TestTorch.Runtime;
        var data = SyntheticDataset.Create(count: 11);
        var output = TempRun();
        // One epoch: the best model is the last, and metrics.csv holds its validation scores.
        Trainer.Start(Config(data, output, 1), SilentProgress.Instance, TestContext.Current.CancellationToken);
        var run = new RunFolder(output);
        var logged = Assert.Single(run.ReadMetrics());
        var (model, _) = ModelLoader.Load(run.ExportedModel);
        var config = TrainConfig.FromJson(File.ReadAllText(run.Config));
        var dataset = new SegmentationDataset(new SegmentationFolder(data), config.Height, config.Width, config.Preprocessing);
        var (summary, _, loss) = UKan.Evaluation.Evaluator.Run(model, dataset, DataSplit.Load(run.Split).Validation, CPU, config.Batch,
            hd95: false, loss: new UKan.Losses.BceDiceLoss());
        // metrics.csv keeps 9 significant digits.
        Assert.Equal(loss, logged.ValLoss!.Value, 1e-7);
        Assert.Equal(summary.Official.Iou, logged.ValIou!.Value, 1e-8);
        Assert.Equal(summary.Official.Dice, logged.ValDice!.Value, 1e-8);
        Assert.Equal(summary.PerImage.Iou.Mean, logged.ValIouPerImage!.Value, 1e-8);
        Assert.Equal(summary.PerImage.Dice.Mean, logged.ValDicePerImage!.Value, 1e-8);
    }

    [Fact]
    public void The_profile_accounts_for_every_phase_of_the_run()
    {
        _ = TestTorch.Runtime;
        var data = SyntheticDataset.Create(count: 8);
        var result = Trainer.Start(Config(data, TempRun(), 2), SilentProgress.Instance, TestContext.Current.CancellationToken, profile: true);
        var profile = Assert.IsType<TrainingProfile>(result.Profile);
        Assert.Equal(2, profile.EpochSeconds.Count);
        foreach (var phase in new[] { "startup.data_check", "startup.data_load", "startup.model", "first_step", "data", "validation", "checkpoint", "logging", "final_outputs" })
            Assert.True(profile.Seconds(phase) > 0, $"{phase} was not timed");
        double phases = TrainingProfile.Phases.Sum(profile.Seconds);
        Assert.InRange(phases, 0.5 * profile.TotalSeconds, profile.TotalSeconds * 1.01);
        Assert.Contains("steady", profile.ToTable());
        using var json = System.Text.Json.JsonDocument.Parse(profile.ToJson());
        Assert.Equal(TrainingProfile.Phases.Length, json.RootElement.GetProperty("phases").GetArrayLength());
    }

    sealed class CollectMessages : ITrainingProgress
    {
        public readonly List<string> Messages = [];
        public void Message(string text) => Messages.Add(text);
        public void EpochStarted(int epoch, int totalEpochs, int steps) { }
        public void StepDone(int epoch, int step, int steps, double loss) { }
        public void EpochDone(EpochRecord record, int totalEpochs) { }
    }

    [Fact]
    public void The_run_keeps_a_dataset_fingerprint_and_a_resume_says_when_the_data_changed()
    {
        _ = TestTorch.Runtime;
        var data = SyntheticDataset.Create(count: 8);
        var output = TempRun();
        Trainer.Start(Config(data, output, 1), SilentProgress.Instance, TestContext.Current.CancellationToken);
        var run = new RunFolder(output);
        var saved = DatasetFingerprint.TryLoad(run.Fingerprint);
        Assert.NotNull(saved);
        Assert.Equal(8, saved.Images);
        Assert.Equal((64, 64, 64, 64, 1), (saved.MinWidth, saved.MaxWidth, saved.MinHeight, saved.MaxHeight, saved.DistinctSizes));
        Assert.InRange(saved.ForegroundMean[0], 0.01, 0.99);

        var same = new CollectMessages();
        Trainer.Resume(output, 2, same, TestContext.Current.CancellationToken);
        Assert.DoesNotContain(same.Messages, m => m.Contains("changed"));

        // One mask edited: same samples, other bytes.
        var mask = Path.Combine(data, "masks", "0", "case003.png");
        var raster = ImageFile.Read(mask);
        raster.Pixels8[0] ^= 0xFF;
        ImageFile.WritePng(mask, raster);
        var changed = new CollectMessages();
        Trainer.Resume(output, 3, changed, TestContext.Current.CancellationToken);
        Assert.Contains(changed.Messages, m => m.Contains("changed since this run started") && m.Contains("image or mask files changed"));
        Assert.NotEqual(saved.ContentHash, DatasetFingerprint.TryLoad(run.Fingerprint)!.ContentHash);
    }
}
