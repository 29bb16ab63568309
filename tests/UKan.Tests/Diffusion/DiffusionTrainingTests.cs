using UKan.Data;
using UKan.Diffusion;
using UKan.Checkpoints;
using UKan.Models.Diffusion;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Diffusion;

/// <summary>
/// The diffusion workflow on CPU at the smallest size that runs the real model (U-KAN hybrid, 26.8 M parameters,
/// 4 images, batch 2): training writes checkpoints, weights and sample grids; a run stopped and resumed ends bit for bit
/// where the uninterrupted run ends; the weights load back and sample deterministically.
/// </summary>
public class DiffusionTrainingTests : IDisposable
{
    readonly string data = SyntheticDataset.Create(count: 4, size: 72);
    readonly string root = Path.Combine(Path.GetTempPath(), $"ukan-diffusion-{Guid.NewGuid():N}");

    public void Dispose()
    {
        Directory.Delete(data, true);
        if (Directory.Exists(root)) Directory.Delete(root, true);
    }

    DiffusionConfig Config(string name) => new()
    {
        Data = data, Output = Path.Combine(root, name), Dataset = DiffusionDataset.Generic, Model = DiffusionArchitecture.UKanHybrid,
        Epochs = 2, Batch = 2, SampleEvery = 100, SampleCount = 2, SampleDdimSteps = 1, Seed = 7,
    };

    /// <summary>Requests a stop once the first epoch's last step is done (the trainer checks between epochs).</summary>
    sealed class StopAfterFirstEpoch(CancellationTokenSource cancel) : ITrainingProgress
    {
        public void Message(string text) { }
        public void EpochStarted(int epoch, int totalEpochs, int steps) { }
        public void StepDone(int epoch, int step, int steps, double loss) { if (epoch == 0 && step == steps - 1) cancel.Cancel(); }
        public void EpochDone(EpochRecord record, int totalEpochs) { }
    }

    [Fact]
    public void Trains_resumes_exactly_and_samples()
    {
        _ = TestTorch.Runtime;
        var straight = DiffusionTrainer.Start(Config("straight"), SilentProgress.Instance, TestContext.Current.CancellationToken);
        Assert.False(straight.Stopped);
        Assert.True(double.IsFinite(straight.LastLoss));
        Assert.True(File.Exists(Path.Combine(straight.RunFolder, "samples", "epoch00002.png")));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(straight.RunFolder, "metrics.csv")).Length);

        using var cancel = new CancellationTokenSource();
        var stopped = DiffusionTrainer.Start(Config("resumed"), new StopAfterFirstEpoch(cancel), cancel.Token);
        Assert.True(stopped.Stopped);
        Assert.Equal(1, stopped.EpochsDone);
        Assert.False(File.Exists(Path.Combine(stopped.RunFolder, "model.safetensors")));
        // The stopped run in the layout of older versions (the checkpoint at the folder's root, no checkpoints/):
        // generate still finds it, and --resume moves it into checkpoints/ and continues exactly.
        var run = new RunFolder(stopped.RunFolder);
        Assert.True(File.Exists(run.Last), "a diffusion checkpoint belongs in checkpoints/ as in segmentation runs");
        File.Move(run.Last, run.OldDiffusionLast);
        Directory.Delete(run.Checkpoints);
        var (old, _) = DiffusionWeights.Load(stopped.RunFolder);
        old.Dispose();
        var resumed = DiffusionTrainer.Resume(stopped.RunFolder, null, SilentProgress.Instance, TestContext.Current.CancellationToken);
        Assert.Equal(straight.LastLoss, resumed.LastLoss);
        Assert.True(File.Exists(run.Last) && !File.Exists(run.OldDiffusionLast));
        Assert.True(UKan.IO.RunDirectory.IsRun(resumed.RunFolder));

        var (a, _) = SafeTensors.Read(Path.Combine(straight.RunFolder, "model.safetensors"));
        var (b, meta) = SafeTensors.Read(Path.Combine(resumed.RunFolder, "model.safetensors"));
        Assert.Equal(DiffusionWeights.Kind, meta["ukan.kind"]);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var key in a.Keys) Assert.True(a[key].shape.SequenceEqual(b[key].shape) && a[key].eq(b[key]).all().item<bool>(), $"{key} differs between the straight and the resumed run");

        var (model, arch) = DiffusionWeights.Load(resumed.RunFolder);
        Assert.Equal(DiffusionArchitecture.UKanHybrid, arch);
        var ddpm = new Ddpm();
        int calls = 0;
        var first = Samples.Generate(model, ddpm, 2, CPU, ddimSteps: 2, seed: 3, onStep: () => calls++);
        var again = Samples.Generate(model, ddpm, 2, CPU, ddimSteps: 2, seed: 3);
        Assert.Equal(ddpm.Evaluations(2), calls);      // one batch of two images, one call per model evaluation
        Assert.All(first, r => Assert.Equal((64, 64, 3), (r.Width, r.Height, r.Channels)));
        Assert.Equal(first.Select(r => r.Pixels8), again.Select(r => r.Pixels8));
    }

    /// <summary>
    /// The epoch loss the trainer reports (summed on the device, read once per epoch) is the plain mean of its steps'
    /// losses, each read on the host: recomputed here step by step from the recipe (same seeds, data order, model,
    /// AdamW, clipping), with the loss read after every step as the trainer did before it stopped waiting for them.
    /// </summary>
    [Fact]
    public void The_epoch_loss_is_the_mean_of_the_step_losses()
    {
        _ = TestTorch.Runtime;
        var config = Config("mean") with { Model = DiffusionArchitecture.UMlp, Epochs = 1, SampleCount = 1 };
        var result = DiffusionTrainer.Start(config, SilentProgress.Instance, TestContext.Current.CancellationToken);

        var data = new DiffusionData(config.Data, config.Dataset, DiffusionTrainer.ImageSize, config.Seed);
        manual_seed(config.Seed);
        var model = DdpmBackbone.Create(config.Model, config.Dropout);
        var named = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new FlatAdam([(new GroupSettings("all", config.Lr, config.WeightDecay), named)], decoupledWeightDecay: true);
        optimizer.Groups[0].LearningRate = LearningRateSchedules.WarmupCosine(config.Lr, 0, config.Epochs, config.WarmupMultiplier);
        model.train();
        var order = Enumerable.Range(0, data.Count).ToList();
        var rng = SplitMix64.For(config.Seed, 0);
        rng.Shuffle(order);
        manual_seed((long)(rng.Next() >> 1));
        var ddpm = new Ddpm();
        int steps = data.Count / config.Batch;
        Assert.True(steps > 1, "the mean of a single step would not test the sum");
        var losses = new List<double>();
        for (int s = 0; s < steps; s++)
        {
            using var scope = NewDisposeScope();
            var x0 = tensor(data.Batch(order.GetRange(s * config.Batch, config.Batch), rng)).reshape(config.Batch, 3, 64, 64);
            var t = randint(0, ddpm.Steps, [config.Batch], dtype: int64);
            var noise = randn_like(x0);
            var loss = Ddpm.OfficialLoss(model.call(ddpm.NoiseImages(x0, t, noise), t), noise);
            optimizer.ZeroGrad();
            loss.backward();
            optimizer.ClipGradNorm(config.GradClip);
            optimizer.Step();
            losses.Add(loss.item<float>());
        }
        Assert.Equal(losses.Sum() / steps, result.LastLoss);
        // metrics.csv, written on the background writer, holds the same number (9 significant digits).
        var row = File.ReadAllLines(Path.Combine(result.RunFolder, "metrics.csv"))[1].Split(',');
        Assert.Equal(result.LastLoss.ToString("G9", System.Globalization.CultureInfo.InvariantCulture), row[2]);
    }

    [Theory]
    [InlineData(DiffusionDataset.Generic, 4)]
    [InlineData(DiffusionDataset.Glas, 20)]
    public void Prepare_writes_the_64px_images_training_uses(DiffusionDataset kind, int expected)
    {
        var prepared = new DiffusionData(data, kind, DiffusionTrainer.ImageSize, seed: 3);
        Assert.Equal(expected, prepared.Count);
        var folder = Path.Combine(root, "images_64");
        prepared.Save(folder);
        var files = Directory.GetFiles(folder);
        Assert.Equal(expected, files.Length);
        Assert.All(files, f => Assert.Equal((64, 64, 3), ImageFile.Read(f) is var r ? (r.Width, r.Height, r.Channels) : default));
        // The same seed crops the same: training and the FID reference set see the same images.
        var again = new DiffusionData(data, kind, DiffusionTrainer.ImageSize, seed: 3);
        var rng = SplitMix64.For(0);
        Assert.Equal(prepared.Batch([0], SplitMix64.For(0)), again.Batch([0], rng));
    }

    [Fact]
    public void User_errors_are_one_line_messages()
    {
        _ = TestTorch.Runtime;
        Assert.Contains("lower --batch", Assert.Throws<UserError>(() => DiffusionTrainer.Start(Config("big") with { Batch = 5 }, SilentProgress.Instance, TestContext.Current.CancellationToken)).Message);
        Assert.False(Directory.Exists(Path.Combine(root, "big")), "a refused run must not leave a run folder behind");
        Assert.Contains("no such folder", Assert.Throws<UserError>(() => DiffusionTrainer.Resume(Path.Combine(root, "none"), null, SilentProgress.Instance, TestContext.Current.CancellationToken)).Message);
        Assert.Contains("folder not found", Assert.Throws<UserError>(() => DiffusionTrainer.Start(Config("x") with { Data = Path.Combine(root, "missing") }, SilentProgress.Instance, TestContext.Current.CancellationToken)).Message);
        Assert.Contains("neither model.safetensors", Assert.Throws<UserError>(() => DiffusionWeights.Load(data)).Message);
    }
}
