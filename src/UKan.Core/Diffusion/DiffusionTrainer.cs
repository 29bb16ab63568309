using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using UKan.Checkpoints;
using UKan.Data;
using UKan.Models.Diffusion;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Diffusion;

/// <summary>A diffusion training run's settings, with the official recipe as defaults (ukan-spec §B.4).</summary>
public sealed record DiffusionConfig
{
    public required string Data { get; init; }
    public required string Output { get; init; }
    public DiffusionDataset Dataset { get; init; } = DiffusionDataset.Cvc;
    public DiffusionArchitecture Model { get; init; } = DiffusionArchitecture.UKanHybrid;
    public int Epochs { get; init; } = 1000;
    public int Batch { get; init; } = 32;
    /// <summary>AdamW 2e-4, weight decay 1e-4; warm-up to 2× over the first tenth of the epochs, then cosine to 0.</summary>
    public double Lr { get; init; } = 2e-4;
    public double WeightDecay { get; init; } = 1e-4;
    public double WarmupMultiplier { get; init; } = 2;
    public double GradClip { get; init; } = 1.0;
    public double Dropout { get; init; } = 0.15;
    /// <summary>official = Σ(ε̂−ε)²/1000 (the reference); mean = the usual mean squared error.</summary>
    public string Loss { get; init; } = "official";
    public int SampleEvery { get; init; } = 50;
    public int SampleCount { get; init; } = 16;
    public int SampleDdimSteps { get; init; } = 50;
    public long Seed { get; init; } = 0;

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public void Validate()
    {
        if (Epochs < 1) throw new UserError($"--epochs {Epochs}: must be at least 1.");
        if (Batch < 1) throw new UserError($"--batch {Batch}: must be at least 1.");
        if (!(Lr > 0)) throw new UserError($"--lr {Lr}: must be a positive number.");
        if (Loss is not ("official" or "mean")) throw new UserError($"--loss {Loss}: use official or mean.");
    }
}

/// <summary>
/// Trains a DDPM noise predictor as Diffusion_UKAN/Diffusion/Train.py: per step a uniform t, Gaussian ε, the official
/// loss, gradient clipping at 1.0, AdamW; per epoch the warm-up-then-cosine learning rate; periodic sample grids and
/// checkpoints (weights, optimizer state, epoch), written atomically so that a run can be resumed.
/// </summary>
public static class DiffusionTrainer
{
    /// <summary>GradualWarmupScheduler(multiplier m, warm = epochs/10, after = cosine(T_max = epochs, η_min 0)), per epoch.</summary>
    public static double LearningRate(double lr, int epoch, int epochs, double multiplier)
    {
        int warm = Math.Max(1, epochs / 10);
        if (epoch < warm) return lr * ((multiplier - 1) * epoch / warm + 1);
        return lr * multiplier * (1 + Math.Cos(Math.PI * (epoch - warm) / epochs)) / 2;
    }

    public static int Run(DiffusionConfig config, bool resume, Action<string> log, CancellationToken cancel = default)
    {
        config.Validate();
        var device = UKan.Native.TorchRuntime.Current.Device;
        var root = Path.GetFullPath(config.Output);
        var configPath = Path.Combine(root, "config.json");
        var last = Path.Combine(root, "last.safetensors");
        if (!resume && File.Exists(configPath)) throw new UserError($"--out {root}: already holds a run; continue it with --resume {root}.");
        Directory.CreateDirectory(Path.Combine(root, "samples"));
        if (!resume) AtomicFile.WriteAllText(configPath, JsonSerializer.Serialize(config, DiffusionConfig.Json));

        var data = new DiffusionData(config.Data, config.Dataset, 64, config.Seed);
        int steps = data.Count / config.Batch;
        if (steps == 0) throw new UserError($"--batch {config.Batch}: larger than the {data.Count} training images; lower --batch.");
        manual_seed(config.Seed);
        var model = DdpmBackbone.Create(config.Model, config.Dropout);
        int start = 0;
        Dictionary<string, Tensor>? state = null;
        long stepCount = 0;
        if (resume)
        {
            if (!File.Exists(last)) throw new UserError($"--resume {root}: no last.safetensors; the run stopped before its first checkpoint.");
            (state, var meta) = SafeTensors.Read(last);
            StateDictLoader.Load(model, state.Where(kv => kv.Key.StartsWith("model.")).ToDictionary(kv => kv.Key[6..], kv => kv.Value), last);
            start = int.Parse(meta["ukan.epoch"], CultureInfo.InvariantCulture) + 1;
            stepCount = long.Parse(meta["ukan.steps"], CultureInfo.InvariantCulture);
        }
        model.to(device);
        var named = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new FlatAdam([(new GroupSettings("all", config.Lr, config.WeightDecay), named)], decoupledWeightDecay: true);
        if (state is not null) optimizer.LoadState(state, stepCount);
        var ddpm = new Ddpm();
        var officialLoss = config.Loss == "official";
        log($"training {config.Model} on {data.Count} images of {config.Data} ({device}), {steps} steps per epoch, run folder {root}");

        for (int epoch = start; epoch < config.Epochs; epoch++)
        {
            if (cancel.IsCancellationRequested) { log($"stopped; continue with: ukan diffusion train --resume {root}"); return 130; }
            var clock = Stopwatch.StartNew();
            optimizer.Groups[0].LearningRate = LearningRate(config.Lr, epoch, config.Epochs, config.WarmupMultiplier);
            model.train();
            var order = Enumerable.Range(0, data.Count).ToList();
            var rng = SplitMix64.For(config.Seed, epoch);
            rng.Shuffle(order);
            double lossSum = 0;
            for (int s = 0; s < steps; s++)
            {
                using var scope = NewDisposeScope();
                var x0 = tensor(data.Batch(order.GetRange(s * config.Batch, config.Batch), rng)).reshape(config.Batch, 3, 64, 64).to(device);
                var t = randint(0, ddpm.Steps, [config.Batch], dtype: int64, device: device);
                var noise = randn_like(x0);
                var eps = model.call(ddpm.NoiseImages(x0, t, noise), t);
                var loss = officialLoss ? Ddpm.OfficialLoss(eps, noise) : Ddpm.MeanLoss(eps, noise);
                optimizer.ZeroGrad();
                loss.backward();
                optimizer.ClipGradNorm(config.GradClip);
                optimizer.Step();
                lossSum += loss.item<float>();
            }
            double meanLoss = lossSum / steps;
            if (!double.IsFinite(meanLoss)) throw new UserError($"the loss became {meanLoss} in epoch {epoch}; lower --lr (now {config.Lr}). The last good checkpoint is {last}.");
            var meta = new Dictionary<string, string>
            {
                ["format"] = "pt", ["ukan.kind"] = "diffusion-checkpoint", ["ukan.diffusion_model"] = config.Model.ToString(),
                ["ukan.epoch"] = epoch.ToString(CultureInfo.InvariantCulture), ["ukan.steps"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture),
            };
            SafeTensors.Write(last, model.state_dict().Select(kv => ("model." + kv.Key, kv.Value)).Concat(optimizer.StateTensors()), meta);
            AtomicFile.WriteAllText(Path.Combine(root, "metrics.csv"), Metrics(root, epoch, optimizer.Groups[0].LearningRate, meanLoss, clock.Elapsed.TotalSeconds));
            bool sample = (epoch + 1) % config.SampleEvery == 0 || epoch == config.Epochs - 1;
            if (sample)
            {
                SafeTensors.Write(Path.Combine(root, "model.safetensors"), model.state_dict().Select(kv => (kv.Key, kv.Value)),
                    new Dictionary<string, string> { ["format"] = "pt", ["ukan.kind"] = "diffusion-weights", ["ukan.diffusion_model"] = config.Model.ToString(), ["ukan.epoch"] = epoch.ToString(CultureInfo.InvariantCulture) });
                var grid = Samples.Generate(model, ddpm, config.SampleCount, device, ddimSteps: config.SampleDdimSteps, seed: epoch);
                ImageFile.WritePng(Path.Combine(root, "samples", $"epoch{epoch + 1:D5}.png"), Samples.Grid(grid));
            }
            log($"epoch {epoch + 1}/{config.Epochs}  loss {meanLoss:F4}  lr {optimizer.Groups[0].LearningRate:E2}  {clock.Elapsed.TotalSeconds:F1} s{(sample ? "  (samples)" : "")}");
        }
        return 0;
    }

    static string Metrics(string root, int epoch, double lr, double loss, double seconds)
    {
        var path = Path.Combine(root, "metrics.csv");
        var lines = File.Exists(path) ? File.ReadAllLines(path).Skip(1).Where(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture) < epoch).ToList() : [];
        lines.Add(string.Join(',', epoch, lr.ToString("G9", CultureInfo.InvariantCulture), loss.ToString("G9", CultureInfo.InvariantCulture), seconds.ToString("G6", CultureInfo.InvariantCulture)));
        return "epoch,lr,loss,seconds\n" + string.Join('\n', lines) + "\n";
    }
}

/// <summary>Sampling images from a trained noise predictor.</summary>
public static class Samples
{
    /// <summary><paramref name="count"/> images as 8-bit RGB rasters: DDIM with <paramref name="ddimSteps"/> steps, or ancestral over all T when null.</summary>
    public static List<Raster> Generate(nn.Module<Tensor, Tensor, Tensor> model, Ddpm ddpm, int count, Device device, int? ddimSteps = null, long seed = 0, int batch = 64)
    {
        model.eval();
        var result = new List<Raster>();
        var generator = new Generator((ulong)seed, device);
        for (int done = 0; done < count; done += batch)
        {
            using var scope = NewDisposeScope();
            int n = Math.Min(batch, count - done);
            long[] shape = [n, 3, 64, 64];
            Tensor Predict(Tensor x, Tensor t) => model.call(x, t);
            var x0 = ddimSteps is int s ? ddpm.SampleDdim(Predict, shape, device, s, generator: generator) : ddpm.Sample(Predict, shape, device, generator);
            // x·0.5 + 0.5 into [0, 1], then to bytes with rounding, as torchvision's save_image.
            var bytes = (x0 * 0.5 + 0.5).mul(255).add(0.5).clamp(0, 255).to(ScalarType.Byte).permute(0, 2, 3, 1).contiguous().cpu();
            var flat = bytes.data<byte>().ToArray();
            for (int i = 0; i < n; i++) result.Add(Raster.Create8(64, 64, 3, flat.AsSpan(i * 64 * 64 * 3, 64 * 64 * 3).ToArray()));
        }
        model.train();
        return result;
    }

    public static Raster Grid(IReadOnlyList<Raster> images) => UKan.Plots.Overlays.Grid(images, columns: (int)Math.Ceiling(Math.Sqrt(images.Count)));
}
