using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using UKan.Checkpoints;
using UKan.Data;
using UKan.Models.Diffusion;
using UKan.Training;
using UKan.Training.Distributed;
using static TorchSharp.torch;

namespace UKan.Diffusion;

/// <summary>A diffusion training run's settings, with the official recipe as defaults (Diffusion_UKAN/Main.py, Diffusion/Train.py @ b20bf63; docs/diffusion.md).</summary>
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
    /// <summary>Data-parallel workers (GPUs); <see cref="Batch"/> is per worker, the global batch Batch × Devices. 1 in configs written before it existed.</summary>
    public int Devices { get; init; } = 1;

    public void Validate()
    {
        if (Epochs < 1) throw new UserError($"--epochs {Epochs}: must be at least 1.");
        if (Batch < 1) throw new UserError($"--batch {Batch}: must be at least 1.");
        if (!(Lr > 0) || double.IsInfinity(Lr)) throw new UserError($"--lr {Lr}: must be a positive number.");
        if (Loss is not ("official" or "mean")) throw new UserError($"--loss {Loss}: use official or mean.");
        // Checked at the start: a bad value would otherwise fail only at the first sample grid, after a full epoch,
        // and stay in the run's config.json.
        if (SampleEvery < 1) throw new UserError($"--sample-every {SampleEvery}: must be at least 1.");
        if (SampleCount is < 1 or > 1024) throw new UserError($"--sample-count {SampleCount}: must be between 1 and 1024.");
        if (SampleDdimSteps is < 1 or > 1000) throw new UserError($"--sample-ddim-steps {SampleDdimSteps}: must be between 1 and 1000.");
        foreach (var (name, v) in new[] { ("weight_decay", WeightDecay), ("warmup_multiplier", WarmupMultiplier), ("grad_clip", GradClip), ("dropout", Dropout) })
            if (!(v >= 0) || double.IsInfinity(v)) throw new UserError($"{name} {v}: must be a finite number, zero or more.");
    }
}

/// <summary>How a diffusion run ended: its folder, the epochs it holds, whether it was stopped, and the last epoch's mean loss.</summary>
public sealed record DiffusionResult(string RunFolder, int EpochsDone, bool Stopped, double LastLoss)
{
    /// <summary>Where the run's time went, phase by phase (<see cref="TrainingProfile.DiffusionPhases"/>).</summary>
    public TrainingProfile? Profile { get; init; }
}

/// <summary>
/// Trains a DDPM noise predictor as Diffusion_UKAN/Diffusion/Train.py: per step a uniform t, Gaussian ε, the official
/// loss, gradient clipping at 1.0, AdamW; per epoch the warm-up-then-cosine learning rate; periodic sample grids and
/// checkpoints (weights, optimizer state, epoch), written atomically so that a run can be resumed.
/// Within an epoch the host never waits for the device: the loss is summed on the device and read once per epoch, and
/// the epoch's files are written on a background thread from a host snapshot, so an epoch takes its steps' time.
/// </summary>
public static class DiffusionTrainer
{
    /// <summary>
    /// Starts a run in <see cref="DiffusionConfig.Output"/> (which must not hold one yet). With <paramref name="parallel"/>
    /// this process is one worker of a data-parallel run (config.Devices of them); only rank 0 makes and writes the folder.
    /// With <paramref name="profile"/> every phase ends with a device synchronisation (exact GPU time per phase, slower);
    /// the result's <see cref="DiffusionResult.Profile"/> is filled either way.
    /// </summary>
    public static DiffusionResult Start(DiffusionConfig config, ITrainingProgress progress, CancellationToken cancel = default, DataParallel? parallel = null,
        bool profile = false)
    {
        var timing = NewProfile(profile);
        config = config with { Data = Path.GetFullPath(config.Data), Output = Path.GetFullPath(config.Output), Devices = parallel?.WorldSize ?? 1 };
        config.Validate();
        var run = new RunFolder(config.Output);
        var last = run.Last;
        var data = LoadData(config, timing);
        StepsPerEpoch(config, data);
        if (parallel is { IsLeader: false }) return Loop(config, data, resume: false, progress, cancel, parallel, timing);
        UKan.IO.OutputGuard.CheckFolder(config.Output, "--out", [config.Data]);
        var (runLock, created) = UKan.IO.RunDirectory.CreateNew(config.Output, UKan.IO.RunDirectory.Diffusion, () => File.Exists(last) || File.Exists(run.OldDiffusionLast));
        using (runLock)
        {
            DiffusionResult result;
            try
            {
                AtomicFile.WriteAllText(run.Config, UKan.IO.JsonFiles.Serialize(config));
                result = Loop(config, data, resume: false, progress, cancel, parallel, timing);
            }
            catch when (!File.Exists(last))
            {
                UKan.IO.RunDirectory.Discard(config.Output, runLock, created);
                throw;
            }
            if (result.Stopped && !File.Exists(last))
            {
                UKan.IO.RunDirectory.Discard(config.Output, runLock, created);
                throw new OperationCanceledException("stopped before the first epoch ended; nothing was kept");
            }
            return result;
        }
    }

    /// <summary>
    /// Continues the run in <paramref name="runDir"/> from checkpoints/last.safetensors (a run of the older layout, with
    /// last.safetensors at its root, has it moved there first); <paramref name="epochs"/> extends its schedule.
    /// On another number of devices than before (<paramref name="parallel"/>; null = one) the global batch is kept.
    /// <paramref name="profile"/> as for <see cref="Start"/>.
    /// </summary>
    public static DiffusionResult Resume(string runDir, int? epochs, ITrainingProgress progress, CancellationToken cancel = default, DataParallel? parallel = null,
        bool profile = false)
    {
        var timing = NewProfile(profile);
        var root = Path.GetFullPath(runDir);
        bool leader = parallel?.IsLeader ?? true;
        using var runLock = leader ? UKan.IO.RunDirectory.OpenExisting(root, UKan.IO.RunDirectory.Diffusion) : null;
        var config = LoadConfig(root) with { Output = root };
        int devices = parallel?.WorldSize ?? 1;
        config = config with { Epochs = epochs ?? config.Epochs, Batch = GlobalBatch.PerDevice(config.Batch, config.Devices, devices), Devices = devices };
        config.Validate();
        var run = new RunFolder(root);
        if (leader && !File.Exists(run.Last) && File.Exists(run.OldDiffusionLast))
        {
            Directory.CreateDirectory(run.Checkpoints);
            File.Move(run.OldDiffusionLast, run.Last);
        }
        if (!File.Exists(run.Last))
            throw new UserError($"--resume {root}: no checkpoints/last.safetensors yet; the run stopped before its first epoch ended: start it again with 'ukan diffusion train --out {root}' and its settings.");
        var data = LoadData(config, timing);
        if (leader) AtomicFile.WriteAllText(run.Config, UKan.IO.JsonFiles.Serialize(config));
        return Loop(config, data, resume: true, progress, cancel, parallel, timing);
    }

    static TrainingProfile NewProfile(bool synchronize) =>
        new(UKan.Native.TorchRuntime.Current.Device, synchronize, TrainingProfile.DiffusionPhases);

    /// <summary>The run's images, decoded and resized once (the start-up's data phase).</summary>
    static DiffusionData LoadData(DiffusionConfig config, TrainingProfile timing)
    {
        using (timing.Phase("startup.data_load")) return new DiffusionData(config.Data, config.Dataset, ImageSize, config.Seed);
    }

    /// <summary>A diffusion run's config.json; a damaged one is a one-line error naming it.</summary>
    public static DiffusionConfig LoadConfig(string root)
    {
        var configPath = new RunFolder(root).Config;
        if (!File.Exists(configPath)) throw new UserError($"--resume {root}: no config.json there; give the folder of a run started with 'ukan diffusion train'.");
        try
        {
            return UKan.IO.JsonFiles.Deserialize<DiffusionConfig>(File.ReadAllText(configPath)) is { Data: not null, Output: not null } c ? c
                : throw new UserError($"{configPath}: empty or without its settings; the run folder is damaged (restore config.json, or start a new run).");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new UserError($"{configPath}: damaged, not a diffusion run's config ({e.Message.Split(". ")[0]}); restore it from a copy, or start a new run.");
        }
    }

    /// <summary>The resolution of the official diffusion experiments (all three datasets are trained at 64×64).</summary>
    public const int ImageSize = 64;

    static DiffusionResult Loop(DiffusionConfig config, DiffusionData data, bool resume, ITrainingProgress progress, CancellationToken cancel,
        DataParallel? parallel, TrainingProfile timing)
    {
        var device = UKan.Native.TorchRuntime.Current.Device;
        var root = config.Output;
        var run = new RunFolder(root);
        var last = run.Last;
        int rank = parallel?.Rank ?? 0, world = parallel?.WorldSize ?? 1;
        bool leader = rank == 0;
        if (leader)
        {
            Directory.CreateDirectory(run.Checkpoints);
            Directory.CreateDirectory(run.Samples);
        }
        int steps = StepsPerEpoch(config, data);
        DdpmBackbone model;
        FlatAdam optimizer;
        int start = 0;
        using (timing.Phase("startup.model"))
        {
            manual_seed(config.Seed);
            model = DdpmBackbone.Create(config.Model, config.Dropout);
            long stepCount = 0;
            Dictionary<string, Tensor>? state = null;
            if (resume)
            {
                (state, var meta) = SafeTensors.Read(last);
                if (meta.GetValueOrDefault("ukan.kind") != "diffusion-checkpoint") throw new UserError($"{last}: not a diffusion training checkpoint.");
                StateDictLoader.Load(model, state.Where(kv => kv.Key.StartsWith("model.")).ToDictionary(kv => kv.Key[6..], kv => kv.Value), last);
                if (!int.TryParse(meta.GetValueOrDefault("ukan.epoch"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var epochDone)
                    || !long.TryParse(meta.GetValueOrDefault("ukan.steps"), NumberStyles.Integer, CultureInfo.InvariantCulture, out stepCount))
                    throw new UserError($"{last}: unreadable epoch or step count in its metadata; the checkpoint is damaged (start a new run).");
                start = epochDone + 1;
            }
            model.to(device);
            var named = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter)).ToList();
            optimizer = new FlatAdam([(new GroupSettings("all", config.Lr, config.WeightDecay), named)], decoupledWeightDecay: true);
            if (state is not null) optimizer.LoadState(state, stepCount);
            if (state is not null) foreach (var t in state.Values) t.Dispose();
            // Data parallel: every worker starts from rank 0's weights, and averages its gradients with the others' before
            // clipping (as DDP with the reference's clip_grad_norm_ after backward).
            if (parallel is not null) GradientReducer.BroadcastModel(parallel.Collectives, optimizer, model);
        }
        using var _optimizer = optimizer;
        using var reducer = parallel is null ? null : new GradientReducer(parallel.Collectives, optimizer, model);
        if (reducer is not null && leader) progress.Message($"data parallel: {reducer.Describe}");
        bool gatherGradients = TrainingStep.GathersWith(reducer);
        var ddpm = new Ddpm();
        var officialLoss = config.Loss == "official";
        progress.Message($"training {DiffusionWeights.Name(config.Model)} ({model.TrainableParameters():N0} parameters) on {data.Count} images of {config.Data} ({device}), " +
                         $"{steps} steps per epoch, run folder {root}{(start > 0 ? $", from epoch {start + 1}" : "")}");
        // The epoch's checkpoint, metrics row and weights are written on a background thread, in order, each atomically.
        using var writer = new BackgroundWriter();
        double meanLoss = double.NaN;
        int processSteps = 0;
        for (int epoch = start; epoch < config.Epochs; epoch++)
        {
            // Workers stop together: any one asked to stop stops all at this epoch boundary.
            if (AnyOf(parallel, cancel.IsCancellationRequested, device))
            {
                writer.Flush();   // the caller looks for the last checkpoint
                return new DiffusionResult(root, epoch, true, meanLoss) { Profile = timing };
            }
            var clock = Stopwatch.StartNew();
            progress.EpochStarted(epoch, config.Epochs, steps);
            optimizer.Groups[0].LearningRate = LearningRateSchedules.WarmupCosine(config.Lr, epoch, config.Epochs, config.WarmupMultiplier);
            model.train();
            var order = Enumerable.Range(0, data.Count).ToList();
            var rng = SplitMix64.For(config.Seed, epoch);
            rng.Shuffle(order);
            // Timesteps, noise and dropout are drawn from a generator seeded per epoch, so a resumed run repeats the
            // uninterrupted one exactly (tested) instead of depending on how far the global generator had advanced.
            // Each worker draws its own timesteps and noise (rank 0 those of a single process).
            manual_seed((long)(rng.Next() >> 1) + rank);
            // The steps' losses are summed on the device in float64 (each float32 loss widened, then added in step order:
            // the same sum as adding them on the host), so that no step waits for the device to report its loss.
            using var lossSum = zeros(1, dtype: float64, device: device);
            for (int s = 0; s < steps; s++)
            {
                using var scope = NewDisposeScope();
                Tensor x0;
                // Worker r takes images r·B … (r+1)·B − 1 of each global batch of the epoch's shuffle.
                using (timing.Phase("data"))
                    x0 = tensor(data.Batch(order.GetRange((s * world + rank) * config.Batch, config.Batch), rng)).reshape(config.Batch, 3, ImageSize, ImageSize).to(device);
                // The process's first step carries the one-off costs (kernel loading, cuDNN's choices, allocator growth).
                using (timing.Phase(processSteps == 0 ? "first_step" : "step"))
                {
                    var t = randint(0, ddpm.Steps, [config.Batch], dtype: int64, device: device);
                    var noise = randn_like(x0);
                    var eps = model.call(ddpm.NoiseImages(x0, t, noise), t);
                    var loss = officialLoss ? Ddpm.OfficialLoss(eps, noise) : Ddpm.MeanLoss(eps, noise);
                    TrainingStep.Backward(loss, optimizer, gatherGradients, reducer);
                    optimizer.ClipGradNorm(config.GradClip);
                    optimizer.Step();
                    lossSum.add_(loss.detach().to(float64));
                }
                processSteps++;
                progress.StepDone(epoch, s, steps, double.NaN);
            }
            // Reading the mean waits for the epoch's queued steps: step time, as in the segmentation trainer's profile.
            using (timing.Phase("step")) meanLoss = EpochMean(lossSum, steps, parallel);
            if (!double.IsFinite(meanLoss))
            {
                writer.Flush();   // the last good checkpoint may still be on its way to the disk
                throw new UserError($"the loss became {meanLoss} in epoch {epoch + 1}; lower --lr (now {config.Lr}). " +
                                    (File.Exists(last) ? $"The last good checkpoint is {last}." : "No epoch had finished, so nothing was kept."));
            }
            if (!leader)   // rank 0 alone writes the run folder
            {
                timing.EpochDone(clock.Elapsed.TotalSeconds);
                continue;
            }
            bool sample = (epoch + 1) % config.SampleEvery == 0 || epoch == config.Epochs - 1;
            using (timing.Phase("checkpoint"))
                WriteEpoch(writer, run, config, model, optimizer, epoch, meanLoss, clock.Elapsed.TotalSeconds, sample);
            if (sample)
            {
                using (timing.Phase("sampling"))
                {
                    // The live model: its weights are those just snapshotted. A fixed seed per run: grids of successive
                    // epochs show the same noise denoised by a better model.
                    var images = Samples.Generate(model, ddpm, config.SampleCount, device, ddimSteps: config.SampleDdimSteps, seed: config.Seed,
                        onStep: cancel.ThrowIfCancellationRequested);
                    ImageFile.WritePng(Path.Combine(run.Samples, $"epoch{epoch + 1:D5}.png"), Samples.Grid(images));
                }
            }
            using (timing.Phase("logging"))
                progress.Message($"epoch {epoch + 1}/{config.Epochs}  loss {meanLoss:F4}  lr {optimizer.Groups[0].LearningRate:E2}  {clock.Elapsed.TotalSeconds:F1} s{(sample ? "  (samples)" : "")}");
            timing.EpochDone(clock.Elapsed.TotalSeconds);
        }
        using (timing.Phase("final_outputs")) writer.Flush();
        return new DiffusionResult(root, config.Epochs, false, meanLoss) { Profile = timing };
    }

    /// <summary>
    /// The epoch's mean loss from its device-side sum: one host read; with several workers the mean over all of them
    /// (in float32, as the all-reduce carries it).
    /// </summary>
    static double EpochMean(Tensor lossSum, int steps, DataParallel? parallel)
    {
        using var mean = lossSum.div(steps);
        if (parallel is null) return mean.item<double>();
        using var single = mean.to(float32);
        parallel.Collectives.AllReduce(single, ReduceOp.Average);
        return single.item<float>();
    }

    /// <summary>
    /// Queues the epoch's files on <paramref name="writer"/> from a host snapshot taken now: the checkpoint first, then
    /// the epoch's metrics row (a crash between the two leaves a row-less epoch, which resuming simply repeats, never
    /// a row for an epoch the checkpoint does not hold), then, on a sampling epoch, the exported weights.
    /// </summary>
    static void WriteEpoch(BackgroundWriter writer, RunFolder run, DiffusionConfig config, DdpmBackbone model, FlatAdam optimizer, int epoch,
        double loss, double seconds, bool weights)
    {
        var snapshot = TrainingCheckpoint.Take(model, optimizer, state: null);
        var checkpoint = Metadata(config, epoch, "diffusion-checkpoint", ("ukan.steps", optimizer.StepCount.ToString(CultureInfo.InvariantCulture)));
        var exported = weights ? Metadata(config, epoch, DiffusionWeights.Kind) : null;
        double lr = optimizer.Groups[0].LearningRate;
        writer.Enqueue(() =>
        {
            snapshot.Write(run.Last, checkpoint);
            AtomicFile.WriteAllText(run.Metrics, Metrics(run.Metrics, epoch, lr, loss, seconds));
            if (exported is not null) snapshot.Write(run.ExportedModel, exported, withOptimizer: false, weightPrefix: "");
        }, after: snapshot.Dispose);
    }

    /// <summary>Full global batches per epoch: the reference's DataLoader drops the last partial batch.</summary>
    static int StepsPerEpoch(DiffusionConfig config, DiffusionData data) => data.Count / (config.Batch * config.Devices) is > 0 and var steps ? steps
        : throw new UserError($"--batch {config.Batch}{(config.Devices > 1 ? $" on {config.Devices} devices" : "")}: the global batch of {config.Batch * config.Devices} is larger than the {data.Count} training images; lower --batch.");

    /// <summary>Whether any worker's <paramref name="flag"/> is set (just the flag when alone).</summary>
    static bool AnyOf(DataParallel? parallel, bool flag, Device device)
    {
        if (parallel is null || parallel.WorldSize == 1) return flag;
        using var t = tensor(new[] { flag ? 1f : 0f }, device: device);
        parallel.Collectives.AllReduce(t, ReduceOp.Max);
        return t.item<float>() > 0;
    }

    static Dictionary<string, string> Metadata(DiffusionConfig config, int epoch, string kind, params (string Key, string Value)[] extra)
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pt", ["ukan.kind"] = kind,
            ["ukan.diffusion_model"] = DiffusionWeights.Name(config.Model),
            ["ukan.dropout"] = config.Dropout.ToString("R", CultureInfo.InvariantCulture),
            ["ukan.epoch"] = epoch.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in extra) meta[k] = v;
        return meta;
    }

    static string Metrics(string path, int epoch, double lr, double loss, double seconds)
    {
        var lines = File.Exists(path) ? File.ReadAllLines(path).Skip(1).Where(l => int.Parse(l.Split(',')[0], CultureInfo.InvariantCulture) < epoch).ToList() : [];
        lines.Add(string.Join(',', epoch, lr.ToString("G9", CultureInfo.InvariantCulture), loss.ToString("G9", CultureInfo.InvariantCulture), seconds.ToString("G6", CultureInfo.InvariantCulture)));
        return "epoch,lr,loss,seconds\n" + string.Join('\n', lines) + "\n";
    }
}
