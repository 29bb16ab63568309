using System.Diagnostics;
using TorchSharp;
using UKan.Data;
using UKan.Evaluation;
using UKan.Losses;
using UKan.Models;
using UKan.Native;
using UKan.Plots;
using UKan.Training.Distributed;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>What a finished (or stopped) run reports.</summary>
/// <param name="RunFolder">The run folder (absolute); <see cref="Training.RunFolder"/> names the files in it, e.g. the
/// exported best model <c>model.safetensors</c> that <c>ukan predict</c> and the <c>Segmenter</c> load.</param>
/// <param name="EpochsDone">Epochs completed in total, including those before a resume.</param>
/// <param name="BestIou">The best validation IoU so far (official, batch-pooled), the one the exported model reached.</param>
/// <param name="BestEpoch">The 0-based epoch of <paramref name="BestIou"/>; −1 when no epoch was validated.</param>
/// <param name="Stopped">True when the run was cancelled before its last epoch; it can be resumed with
/// <see cref="Trainer.Resume"/>.</param>
public sealed record TrainResult(string RunFolder, int EpochsDone, double BestIou, int BestEpoch, bool Stopped)
{
    /// <summary>Where the run's time went (see <see cref="TrainingProfile"/>); advanced.</summary>
    public TrainingProfile? Profile { get; init; }
}

/// <summary>
/// Trains a segmentation model the way Seg_UKAN/train.py does (CUHK-AIM-Group/U-KAN @ b20bf63): per epoch, train on shuffled
/// batches with drop_last, validate, step the cosine schedule, log, and keep the best-validation-IoU model; plus
/// what the reference lacks: a resumable last checkpoint with optimizer state, atomic files, curves and overlays,
/// a CUDA-graph path on the GPU, and a clear error when the loss diverges.
/// </summary>
/// <remarks>
/// <para>Determinism: the data order and every augmentation derive from (data seed, epoch, position), the model has no
/// random layers, and the optimizer state is saved, so on the CPU a resumed run is bit-identical to an uninterrupted one.</para>
/// <para>From code (what <c>ukan train</c> does):</para>
/// <code>
/// var config = new TrainConfig { Data = "data/busi", Output = "runs/busi", Epochs = 100 };
/// TrainResult result = Trainer.Start(config);                  // torch starts on first use (GPU if one is usable)
/// string weights = new RunFolder(result.RunFolder).ExportedModel;  // model.safetensors of the best epoch
/// </code>
/// <para>The data folder holds <c>images/</c> and <c>masks/0/</c> (<c>ukan data prepare</c> makes one from a public
/// dataset). Settings and data are checked before anything is written; errors a caller can fix are
/// <see cref="UserError"/>s. Call <see cref="Native.TorchRuntime.Initialize"/> first to choose the device or the
/// libtorch. A run holds its folder's lock, so one process trains one run folder at a time.</para>
/// </remarks>
public sealed class Trainer
{
    readonly TrainConfig config;
    readonly RunFolder run;
    readonly ITrainingProgress progress;
    readonly Device device;
    readonly TrainingProfile profile;
    readonly DataParallel? parallel;
    readonly string? stepLog;
    /// <summary>Whether this process writes the run folder: always, except on the workers of rank &gt; 0 of a data-parallel run.</summary>
    bool Leader => parallel?.IsLeader ?? true;
    int WorldSize => parallel?.WorldSize ?? 1;

    Trainer(TrainConfig config, RunFolder run, ITrainingProgress progress, Device device, TrainingProfile profile, DataParallel? parallel, string? stepLog) =>
        (this.config, this.run, this.progress, this.device, this.profile, this.parallel, this.stepLog) = (config, run, progress, device, profile, parallel, stepLog);

    /// <summary>Workers of a data-parallel run agree whether to stop every this many steps (one tiny all-reduce and a host wait).</summary>
    public const int StopCheckInterval = 16;

    /// <summary>
    /// Starts a new run in config.Output. Every setting and the data are checked before the folder is made, and a
    /// start that ends (error or Ctrl+C) before its first checkpoint removes the folder again, so that a failed start
    /// never leaves a run that can neither be resumed nor started again.
    /// </summary>
    /// <param name="config">The run's settings; <see cref="TrainConfig.Data"/> and <see cref="TrainConfig.Output"/> are required,
    /// the rest default to the official recipe.</param>
    /// <param name="progress">Receives messages, per-step losses and per-epoch metrics; null: none (<see cref="SilentProgress"/>).</param>
    /// <param name="cancel">Stops the run at the next step; the last finished epoch's checkpoint is kept and the result
    /// has <see cref="TrainResult.Stopped"/> set (before the first epoch ends, the folder is removed and
    /// <see cref="OperationCanceledException"/> is thrown).</param>
    /// <param name="profile">Synchronise the device at phase boundaries so that the profile charges GPU time exactly (slower).</param>
    /// <returns>The run's outcome; the folder holds the best model, the last checkpoint, metrics.csv and the curves.</returns>
    /// <exception cref="UserError">A setting, the data or the output folder is wrong (the message says how to fix it).</exception>
    /// <param name="parallel">This process's part in a data-parallel run (null: train alone). config.Batch is then the
    /// per-worker batch and config.Devices must be the number of workers; only rank 0 makes and writes the run folder.</param>
    /// <param name="stepLog">A CSV file to receive every step's loss (averaged over the workers): epoch,step,loss.</param>
    public static TrainResult Start(TrainConfig config, ITrainingProgress? progress = null, CancellationToken cancel = default, bool profile = false,
        DataParallel? parallel = null, string? stepLog = null)
    {
        progress ??= SilentProgress.Instance;
        var timing = new TrainingProfile(TorchRuntime.Current.Device, profile);
        config.Validate();
        // The GPU's one-time costs are paid on a background thread while the data are checked and decoded.
        using var warmup = StartupWarmup.Begin(config, TorchRuntime.Current.Device);
        var run = new RunFolder(config.Output);
        SegmentationFolder folder;
        DatasetFingerprint fingerprint;
        using (timing.Phase("startup.data_check")) (folder, fingerprint) = OpenData(config);
        var split = config.Split is null
            ? DataSplit.Make(folder.Ids, config.DataSeed, config.ValidationFraction)
            : DataSplit.Load(config.Split);
        split.CheckAgainst(folder.Ids, config.Data);
        StepsPerEpoch(split, config.Batch, config.Devices);   // before the folder is made
        if (parallel is not null && parallel.WorldSize != config.Devices)
            throw new InvalidOperationException($"{parallel.WorldSize} workers for a config of {config.Devices} devices");
        if (parallel is { IsLeader: false })
            return new Trainer(config, run, progress, TorchRuntime.Current.Device, timing, parallel, stepLog).Loop(folder, split, resumeFrom: null, warmup, cancel);
        UKan.IO.OutputGuard.CheckFolder(run.Root, "--out", [config.Data, config.Split]);
        var (runLock, created) = UKan.IO.RunDirectory.CreateNew(run.Root, UKan.IO.RunDirectory.Segmentation, () => File.Exists(run.Last));
        using (runLock)
        {
            TrainResult result;
            try
            {
                Directory.CreateDirectory(run.Checkpoints);
                AtomicFile.WriteAllText(run.Config, config.ToJson());
                split.Save(run.Split);
                AtomicFile.WriteAllText(run.Fingerprint, fingerprint.ToJson());
                result = new Trainer(config, run, progress, TorchRuntime.Current.Device, timing, parallel, stepLog).Loop(folder, split, resumeFrom: null, warmup, cancel);
            }
            catch when (!File.Exists(run.Last))
            {
                UKan.IO.RunDirectory.Discard(run.Root, runLock, created);
                throw;
            }
            if (result.Stopped && !File.Exists(run.Last))
            {
                UKan.IO.RunDirectory.Discard(run.Root, runLock, created);
                throw new OperationCanceledException("stopped before the first epoch ended; nothing was kept");
            }
            return result;
        }
    }

    /// <summary>
    /// Continues a run from its last checkpoint; <paramref name="epochs"/> may extend the schedule. A run may continue on
    /// another number of workers (<paramref name="parallel"/>; null = one): the global batch is kept (per-worker batch =
    /// global batch / workers, which must divide), so the data order and the steps per epoch continue unchanged.
    /// </summary>
    /// <param name="runDir">A run folder made by <see cref="Start"/> (or <c>ukan train</c>).</param>
    /// <param name="epochs">A new total number of epochs (the cosine schedule then runs to it); null: the run's own.</param>
    /// <param name="progress">As for <see cref="Start"/>; null: none.</param>
    /// <param name="cancel">As for <see cref="Start"/>.</param>
    /// <param name="profile">As for <see cref="Start"/>.</param>
    /// <param name="parallel">As for <see cref="Start"/>.</param>
    /// <param name="stepLog">As for <see cref="Start"/>.</param>
    /// <exception cref="UserError">The folder is not a resumable run, or its data changed shape.</exception>
    public static TrainResult Resume(string runDir, int? epochs = null, ITrainingProgress? progress = null, CancellationToken cancel = default,
        bool profile = false, DataParallel? parallel = null, string? stepLog = null)
    {
        progress ??= SilentProgress.Instance;
        var timing = new TrainingProfile(TorchRuntime.Current.Device, profile);
        var run = new RunFolder(runDir);
        bool leader = parallel?.IsLeader ?? true;
        // Only the leader holds the run's lock; the other workers read the folder and write nothing.
        using var runLock = leader ? UKan.IO.RunDirectory.OpenExisting(run.Root, UKan.IO.RunDirectory.Segmentation) : null;
        if (!File.Exists(run.Config)) throw new UserError($"--resume {runDir}: no config.json there; give the folder of a run started with 'ukan train'.");
        if (!File.Exists(run.Last)) throw new UserError($"--resume {runDir}: no checkpoints/last.safetensors yet; the run stopped before its first epoch ended: start it again with 'ukan train --out {runDir}' and its settings.");
        var config = TrainConfig.Load(run.Config);
        if (epochs is int e) config = config with { Epochs = e };
        config = config.OnDevices(parallel?.WorldSize ?? 1);
        config.Validate();
        using var warmup = StartupWarmup.Begin(config, TorchRuntime.Current.Device);
        SegmentationFolder folder;
        DatasetFingerprint fingerprint;
        using (timing.Phase("startup.data_check")) (folder, fingerprint) = OpenData(config);
        // Runs started before fingerprints existed get one now; a changed dataset is said, not refused (a user may
        // have fixed a mask on purpose), so that curves that jump at the resume have an explanation.
        if (leader && DatasetFingerprint.TryLoad(run.Fingerprint) is { } before && before.Difference(fingerprint) is { } change)
            progress.Message($"warning: the data in {config.Data} changed since this run started ({change}); its earlier epochs were trained on the old data.");
        if (leader) AtomicFile.WriteAllText(run.Fingerprint, fingerprint.ToJson());
        if (!File.Exists(run.Split)) throw new UserError($"--resume {runDir}: split.json is missing; the run folder is damaged.");
        var split = DataSplit.Load(run.Split);
        split.CheckAgainst(folder.Ids, config.Data);
        if (leader) AtomicFile.WriteAllText(run.Config, config.ToJson());
        return new Trainer(config, run, progress, TorchRuntime.Current.Device, timing, parallel, stepLog).Loop(folder, split, resumeFrom: run.Last, warmup, cancel);
    }

    /// <summary>The first check of a training dataset, before anything is said or made: the folder must exist.</summary>
    /// <exception cref="UserError">It does not.</exception>
    public static void RequireDataFolder(string data)
    {
        if (!Directory.Exists(data)) throw new UserError($"--data {data}: folder not found; it must hold images/ and masks/0/ (see 'ukan data prepare').");
    }

    /// <summary>Checks the dataset completely (every problem at once) and opens it, with its fingerprint.</summary>
    static (SegmentationFolder Folder, DatasetFingerprint Fingerprint) OpenData(TrainConfig config)
    {
        RequireDataFolder(config.Data);
        bool labelMaps = config.Model.Loss == SegmentationLoss.CeDice;
        var report = DataCheck.Run(config.Data, config.Model.NumClasses, labelMaps);
        if (!report.Ok)
        {
            var errors = report.Errors.ToList();
            var first = errors[0];
            throw new UserError($"--data {config.Data}: {errors.Count} data problem(s), first: {first.Path}: {first.Problem}; run 'ukan data check {config.Data}' for the full list.");
        }
        var folder = new SegmentationFolder(config.Data, config.Model.NumClasses, labelMaps);
        return (folder, DatasetFingerprint.Of(report, folder));
    }

    /// <summary>Full global batches (per-worker batch × workers) per epoch (drop_last); none is a user error.</summary>
    public static int StepsPerEpoch(DataSplit split, int batch, int workers = 1) => split.Train.Count / (batch * workers) is > 0 and var steps ? steps
        : throw new UserError(workers == 1 ? $"--batch {batch}: larger than the {split.Train.Count} training images; lower --batch."
            : $"--batch {batch} on {workers} devices: the global batch of {batch * workers} is larger than the {split.Train.Count} training images; lower --batch.");

    /// <summary>
    /// A warning when a softmax Seg U-KAN has fewer head channels than classes: its output head is a 1×1 convolution on
    /// the last decoder's d0/8 channels (SegUKan's <c>final</c>), and with 2 of them for 3 classes a foreground class
    /// often never won the argmax in short CPU runs (its IoU stayed 0), while 4 learnt every class. Null when fine.
    /// </summary>
    public static string? NarrowHeadWarning(ModelSpec spec)
    {
        if (spec.Architecture != Architecture.UKan || spec.Loss != SegmentationLoss.CeDice) return null;
        int head = spec.EmbedDims[0] / 8;
        return head >= spec.NumClasses ? null
            : $"warning: embed dims {string.Join(',', spec.EmbedDims)} give the output head {head} channel(s) (d0/8) for " +
              $"{spec.NumClasses} classes; a class may never be predicted: use a first embed dim of at least {8 * spec.NumClasses} " +
              "(e.g. --preset tiny for 3 or 4 classes).";
    }

    /// <summary>Whether a run of <paramref name="config"/> on <paramref name="device"/> replays its step as a CUDA graph (the first call compiles the shim on a machine that never ran ukan).</summary>
    internal static bool UsesCudaGraphs(TrainConfig config, Device device) =>
        config.CudaGraphs && device.type == DeviceType.CUDA && TorchCudaShim.Available;

    /// <summary>The run's Adam on <paramref name="model"/> (on its device): the official two parameter groups with the run's rates and decays.</summary>
    internal static FlatAdam NewOptimizer(nn.Module model, TrainConfig config, bool graphs) => new(
        ParameterGroups.Official(model.named_parameters().Select(p => (p.name, p.parameter)).ToList(),
            config.Lr, config.WeightDecay, config.KanLr, config.KanWeightDecay),
        capturable: graphs, channelsLast: config.ChannelsLast);

    /// <summary>Decoded pixels up to this size go to the GPU when <see cref="DataPlacement.Auto"/> (a BUSI-sized set at 256² is ~0.2 GiB).</summary>
    public const long DeviceDataBudgetBytes = 4L << 30;

    TrainResult Loop(SegmentationFolder folder, DataSplit split, string? resumeFrom, StartupWarmup? warmup, CancellationToken cancel)
    {
        bool graphs;
        SideStreamScope? side;
        using (profile.Phase("startup.cuda"))
        {
            // The first use of the shim compiles it on a machine that has never run ukan (cached afterwards).
            graphs = UsesCudaGraphs(config, device);
            // Everything runs on a side stream when graphs are used (see SideStreamScope: from the first forward pass on).
            side = graphs ? new SideStreamScope(DeviceIndex.Of(device)) : null;
            if (device.type == DeviceType.CUDA) PrecisionSettings.EnableCudnnBenchmark(config.CudnnAutotune);
        }
        using var _side = side;
        // Before the first convolution and matrix product (cuBLAS reads its workspace setting once).
        using var determinism = Determinism.Scope(config.Deterministic, device);
        // Training, validation and the exported model's overlays all run in the run's precision; restored afterwards.
        using var precision = PrecisionSettings.Scope(config.Precision, device);

        nn.Module<Tensor, Tensor> model;
        FlatAdam optimizer;
        int startEpoch = 0, bestEpoch = -1;
        double bestIou = double.NegativeInfinity;
        long steps = 0;
        using (profile.Phase("startup.model"))
        {
            // The warm-up's own model draws from the same global generator: it must be made before the run's is seeded.
            warmup?.WaitForModel();
            manual_seed(config.TorchSeed);
            model = ModelFactory.Create(config.Model);
            Dictionary<string, Tensor>? resumeTensors = null;
            if (resumeFrom is not null)
            {
                var (tensors, state) = TrainingCheckpoint.Read(resumeFrom);
                TrainingCheckpoint.LoadModel(model, tensors, resumeFrom);
                (startEpoch, steps, bestIou, bestEpoch) = (state.Epoch + 1, state.Steps, state.BestIou, state.BestEpoch);
                resumeTensors = tensors;
            }
            model.to(device);
            optimizer = NewOptimizer(model, config, graphs);
            if (resumeTensors is not null) optimizer.LoadState(resumeTensors, steps);
            if (parallel is not null)
            {
                // Every worker starts from rank 0's weights and buffers (as DDP's constructor does), and with --sync-bn
                // normalises with the statistics of the global batch.
                GradientReducer.BroadcastModel(parallel.Collectives, optimizer, model);
                if (config.SyncBatchNorm && parallel.WorldSize > 1) SyncBatchNorm.Attach(model, parallel.Collectives);
            }
        }
        using var _optimizer = optimizer;

        int stepsPerEpoch = StepsPerEpoch(split, config.Batch, WorldSize);
        var dataset = new SegmentationDataset(folder, config.Height, config.Width, config.Preprocessing, config.Model.InChannels);
        DeviceDataset? onDevice;
        List<(Tensor Images, Tensor Targets, string[] Ids)>? validationOnDevice = null;
        using (profile.Phase("startup.data_load"))
        {
            // Every sample is decoded once, in parallel, before the first step.
            var all = split.Train.Concat(split.Validation).ToList();
            dataset.DecodeAll(all);
            bool toDevice = config.DataPlacement switch
            {
                DataPlacement.Device => true,
                DataPlacement.Host => false,
                _ => device.type == DeviceType.CUDA && DeviceDataset.BytesNeeded(dataset, all) <= DeviceDataBudgetBytes,
            };
            if (Leader && NarrowHeadWarning(config.Model) is { } narrow) progress.Message(narrow);
            if (toDevice && folder.LabelMaps)
            {
                // The device path augments binary masks with the official linear-resize-and-threshold rule; label maps
                // need nearest neighbour, which the host path does.
                progress.Message("label maps are augmented on the host (the device data path handles binary masks only)");
                toDevice = false;
            }
            onDevice = toDevice ? new DeviceDataset(dataset, all, device) : null;
            // Only the leader validates.
            if (onDevice is not null && Leader) validationOnDevice = ValidationBatches(onDevice, split.Validation);
        }
        using var _onDevice = onDevice;
        if (warmup is not null)
            using (profile.Phase("startup.warmup"))
                if (warmup.Finish() is { } failed) progress.Message($"note: the start-up warm-up failed ({failed}); the first step pays its costs instead.");

        var records = run.ReadMetrics().Where(r => r.Epoch < startEpoch).ToList();
        var events = Leader ? torch.utils.tensorboard.SummaryWriter(run.Events) : null;
        var lossFn = ModelLoss.Create(config.Model.Loss);
        var reducer = parallel is null ? null : new GradientReducer(parallel.Collectives, optimizer, model);
        if (reducer is not null && Leader) progress.Message($"data parallel: {reducer.Describe}");
        using var step = new TrainingStep(model, optimizer, lossFn, config.Batch, config.Model.InChannels, config.Model.NumClasses,
            config.Height, config.Width, device, graphs, config.ChannelsLast, config.Model.Loss,
            reducer);
        using var stepLosses = stepLog is not null && Leader ? new StreamWriter(stepLog, append: false) : null;
        stepLosses?.WriteLine("epoch,step,loss");
        using var validation = new ValidationPass(model, lossFn, graphs, config.Model.Loss);
        // The device path's augmentation reads its batch's plan row from a fixed buffer, so that it can be part of the
        // step's CUDA graph: per step the host then issues one small device-to-device copy and one replay.
        using var planRow = onDevice is null ? null : zeros(config.Batch, DeviceDataset.PlanColumns, dtype: int64, device: device);
        Action? fill = onDevice is null ? null : () => onDevice.Fill(planRow!, step.Images, step.Targets);
        // An epoch's files (checkpoints, weights, metrics) are written on a background thread, in order, each atomically.
        using var writer = new BackgroundWriter();
        int processSteps = 0;

        int epoch = startEpoch;
        bool stopped = false;
        try
        {
            for (; epoch < config.Epochs; epoch++)
            {
                var clock = Stopwatch.StartNew();
                foreach (var group in optimizer.Groups)
                    group.LearningRate = LearningRateSchedules.Cosine(group.Settings.LearningRate, epoch, config.Epochs, config.MinLr);
                model.train();
                step.ResetSums();
                progress.EpochStarted(epoch, config.Epochs, stepsPerEpoch);
                Tensor? plan = null;
                IEnumerator<SegmentationBatch>? hostBatches = null;
                using (profile.Phase("data"))
                {
                    var batches = DistributedSampler.EpochPlan(split.Train, config.Batch, config.DataSeed, epoch, parallel?.Rank ?? 0, WorldSize);
                    if (onDevice is not null) plan = onDevice.UploadPlan(batches);
                    else hostBatches = Prefetch.Ahead(dataset.TrainingBatches(batches)).GetEnumerator();
                }
                using (plan)
                using (hostBatches)
                {
                    for (int s = 0; s < stepsPerEpoch; s++)
                    {
                        if (ShouldStop(s, cancel)) { stopped = true; break; }
                        using (profile.Phase("data"))
                        using (var scope = NewDisposeScope())
                        using (no_grad())
                        {
                            if (plan is not null) planRow!.copy_(plan[s]);
                            else
                            {
                                hostBatches!.MoveNext();
                                var (bx, bt) = hostBatches.Current.ToTensors(CPU);
                                step.Images.copy_(bx);
                                step.Targets.copy_(bt);
                            }
                        }
                        // The first two steps of a process: eager (handles and workspaces of this thread and stream; without
                        // the start-up warm-up also kernel loading and cuDNN), then, with graphs, the capture and first replay.
                        using (profile.Phase(processSteps switch { 0 => "first_step", 1 => "second_step", _ => "step" })) step.Run(fill);
                        processSteps++;
                        steps++;
                        if (stepLog is not null) LogStepLoss(step, stepLosses, epoch, steps);
                        progress.StepDone(epoch, s + 1, stepsPerEpoch, double.NaN);
                    }
                }
                if (stopped) break;

                double trainLoss, trainIou;
                // Reading the sums waits for the GPU to finish the epoch's queued steps: step time, not logging. With
                // several workers the means are over all of them (every worker then takes the same decisions).
                using (profile.Phase("step"))
                {
                    if (parallel is not null) step.AverageSums(parallel.Collectives);
                    (trainLoss, trainIou) = step.ReadMeans();
                }
                if (!double.IsFinite(trainLoss))
                {
                    writer.Flush();   // the last good checkpoint may still be on its way to the disk
                    throw new UserError($"the training loss became {trainLoss} in epoch {epoch}; the learning rates are too high for this data (--lr {config.Lr}, --kan-lr {config.KanLr}): lower them. " +
                        (File.Exists(run.Last) ? $"The last good checkpoint is {run.Last}." : "No epoch had finished, so nothing was kept."));
                }

                ValidationScores? val = null;
                if (Leader && ((epoch + 1) % config.ValidateEvery == 0 || epoch == config.Epochs - 1))
                    using (profile.Phase("validation"))
                        val = Validate(model, validation, validationOnDevice ?? HostBatches(dataset, split.Validation));
                bool best = val is not null && val.Iou > bestIou;
                if (best) { bestIou = val!.Iou; bestEpoch = epoch; }

                var lrs = optimizer.Groups.ToDictionary(g => g.Settings.Name, g => g.LearningRate);
                var record = new EpochRecord(epoch, lrs.GetValueOrDefault("base"), lrs.GetValueOrDefault("kan"), trainLoss, trainIou,
                    val?.Loss, val?.Iou, val?.Dice, val?.IouPerImage, val?.DicePerImage, clock.Elapsed.TotalSeconds, best);
                records.Add(record);
                if (Leader)
                {
                    using (profile.Phase("checkpoint"))
                    {
                        var snapshot = TrainingCheckpoint.Take(model, optimizer, new TrainingCheckpoint.State(epoch, steps, bestIou, bestEpoch, config.Model, config.ToJson()));
                        var rows = records.ToList();
                        var note = $"best validation IoU {bestIou:F4} at epoch {epoch}";
                        // One job per epoch, in this order: metrics.csv never lists an epoch whose checkpoint is not written.
                        // The best checkpoint keeps the weights and the state but not Adam's moments (only last is resumed).
                        writer.Enqueue(() =>
                        {
                            if (best)
                            {
                                snapshot.Write(run.Best, withOptimizer: false);
                                snapshot.WriteWeights(run.ExportedModel, note);
                            }
                            snapshot.Write(run.Last);
                            run.WriteMetrics(rows);
                        }, after: snapshot.Dispose);
                    }
                }

                using (profile.Phase("logging"))
                {
                    if (events is not null)
                    {
                        events.add_scalar("train/loss", (float)trainLoss, epoch);
                        events.add_scalar("train/iou", (float)trainIou, epoch);
                    }
                    if (events is not null && val is not null)
                    {
                        events.add_scalar("val/loss", (float)val.Loss, epoch);
                        events.add_scalar("val/iou", (float)val.Iou, epoch);
                        events.add_scalar("val/dice", (float)val.Dice, epoch);
                        events.add_scalar("val/iou_per_image", (float)val.IouPerImage, epoch);
                    }
                    progress.EpochDone(record, config.Epochs);
                }
                profile.EpochDone(clock.Elapsed.TotalSeconds);

                // Early stopping is the leader's decision (it alone validates), shared with the other workers.
                if (LeaderSays(config.EarlyStopping > 0 && bestEpoch >= 0 && epoch - bestEpoch >= config.EarlyStopping))
                {
                    progress.Message($"early stopping: no better validation IoU for {config.EarlyStopping} epochs.");
                    epoch++;
                    break;
                }
            }
        }
        finally
        {
            if (validationOnDevice is not null)
                foreach (var (x, t, _) in validationOnDevice) { x.Dispose(); t.Dispose(); }
        }

        // Pictures once, at the end (stopped runs too): the curves, and the overlays of the best model.
        if (Leader)
        {
            using (profile.Phase("final_outputs"))
            {
                writer.Flush();
                if (records.Count > 0) TrainingCurves.Save(run.Curves, records);
                if (File.Exists(run.ExportedModel)) SaveBestOverlays(model, dataset, split.Validation);
            }
        }
        return new TrainResult(run.Root, epoch, bestIou, bestEpoch, stopped) { Profile = profile };
    }

    /// <summary>
    /// Whether to stop before step <paramref name="s"/>: at once when alone; in a data-parallel run every
    /// <see cref="StopCheckInterval"/> steps, all workers together when any of them was asked to (Ctrl+C, SIGTERM, the
    /// supervisor), so that none is left waiting in a collective for the others.
    /// </summary>
    bool ShouldStop(int s, CancellationToken cancel)
    {
        if (parallel is null || parallel.WorldSize == 1) return cancel.IsCancellationRequested;
        if (s % StopCheckInterval != 0) return false;
        using var flag = full(1, cancel.IsCancellationRequested ? 1f : 0f, device: device);
        parallel.Collectives.AllReduce(flag, ReduceOp.Max);
        return flag.item<float>() > 0;
    }

    /// <summary>The leader's <paramref name="decision"/>, on every worker.</summary>
    bool LeaderSays(bool decision)
    {
        if (parallel is null || parallel.WorldSize == 1) return decision;
        using var flag = full(1, decision ? 1f : 0f, device: device);
        parallel.Collectives.Broadcast(flag);
        return flag.item<float>() > 0;
    }

    /// <summary>The loss of the step just run (over all workers) as a line of the step log; waits for the step.</summary>
    void LogStepLoss(TrainingStep step, StreamWriter? log, int epoch, long stepNumber)
    {
        using var loss = step.LastLoss();
        parallel?.Collectives.AllReduce(loss, ReduceOp.Average);
        var value = loss.item<float>();
        log?.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{epoch},{stepNumber},{value:G9}"));
    }

    /// <summary>The validation batches, built once on the device (they never change): batch size as training, the last one smaller.</summary>
    List<(Tensor Images, Tensor Targets, string[] Ids)> ValidationBatches(DeviceDataset data, IReadOnlyList<string> ids)
    {
        var batches = new List<(Tensor, Tensor, string[])>();
        for (int b = 0; b < ids.Count; b += config.Batch)
        {
            var chunk = ids.Skip(b).Take(config.Batch).ToArray();
            var x = TrainingStep.InputBuffer(chunk.Length, config.Model.InChannels, config.Height, config.Width, device, config.ChannelsLast);
            var t = zeros(chunk.Length, config.Model.NumClasses, config.Height, config.Width, device: device);
            using (var plan = data.UploadPlan([new BatchPlan(chunk, chunk.Select(_ => AugmentChoice.None).ToArray())]))
                data.Fill(plan[0], x, t);
            batches.Add((x, t, chunk));
        }
        return batches;
    }

    /// <summary>Validation batches built on the host, one ahead, copied to the device.</summary>
    IEnumerable<(Tensor Images, Tensor Targets, string[] Ids)> HostBatches(SegmentationDataset dataset, IReadOnlyList<string> ids)
    {
        foreach (var batch in Prefetch.Ahead(dataset.Plain(ids, config.Batch)))
        {
            var (x, t) = batch.ToTensors(device);
            yield return (x, t, batch.Ids);
            x.Dispose();
            t.Dispose();
        }
    }

    /// <summary>Validation scores in both ways: official (batch-pooled, batch-size weighted) and per-image means.</summary>
    /// <param name="Loss">Mean BCE + Dice loss.</param>
    /// <param name="Iou">IoU pooled over each batch, weighted by batch size (the official validate()).</param>
    /// <param name="Dice">Dice from the pooled IoU, 2·IoU/(1+IoU), as the official code reports it.</param>
    /// <param name="IouPerImage">Mean of the per-image IoU.</param>
    /// <param name="DicePerImage">Mean of the per-image Dice.</param>
    public sealed record ValidationScores(double Loss, double Iou, double Dice, double IouPerImage, double DicePerImage);

    /// <summary>
    /// Loss and IoU/Dice over the validation batches as validate() in the reference (IoU pooled over each batch,
    /// Dice = 2·IoU/(1+IoU), batch-size weighted), plus the per-image means; the same numbers as
    /// <see cref="Evaluator"/> without HD95 (the slow part, not used for model selection). Loss and per-image
    /// confusion counts stay on the device until the end: one synchronisation per validation.
    /// </summary>
    ValidationScores Validate(nn.Module<Tensor, Tensor> model, ValidationPass pass, IEnumerable<(Tensor Images, Tensor Targets, string[] Ids)> batches)
    {
        model.eval();
        // One meter per scored class (multi-class: the mean over the classes is the score that selects the best epoch).
        var meters = Enumerable.Range(0, config.Model.ScoredClasses)
            .Select(_ => new SegmentationMeter(new SegmentationMeterOptions { ComputeHd95 = false })).ToArray();
        var idsPerBatch = new List<string[]>();
        Tensor counts, lossSum;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var sum = zeros(1, dtype: float64, device: device);
            var perBatch = new List<Tensor>();
            foreach (var (x, t, ids) in batches)
            {
                var (loss, perImage) = pass.Run(x, t);
                // As Evaluator: the loss of the batch (in float32) times its size, summed in float64.
                sum.add_(loss.to(float64) * ids.Length);
                perBatch.Add(perImage);
                idsPerBatch.Add(ids);
            }
            counts = (perBatch.Count == 0 ? zeros(0, 4, dtype: int64) : cat(perBatch)).cpu().MoveToOuterDisposeScope();
            lossSum = sum.cpu().MoveToOuterDisposeScope();
        }
        using (counts)
        using (lossSum)
        {
            var c = counts.data<long>().ToArray();
            int row = 0;
            int images = 0;
            foreach (var ids in idsPerBatch)
            {
                // Counts are class-major within a batch (ValidationPass): the batch's images for class 0, then class 1, ...
                foreach (var meter in meters)
                {
                    var batch = new ConfusionCounts[ids.Length];
                    for (int i = 0; i < ids.Length; i++, row++) batch[i] = new ConfusionCounts(c[row * 4], c[row * 4 + 1], c[row * 4 + 2], c[row * 4 + 3]);
                    meter.AddCounts(batch, ids);
                }
                images += ids.Length;
            }
            model.train();
            var summaries = meters.Select(m => m.Summarize()).ToList();
            int n = Math.Max(1, images);
            return new ValidationScores(lossSum.item<double>() / n, summaries.Average(x => x.Official.Iou), summaries.Average(x => x.Official.Dice),
                summaries.Average(x => x.PerImage.Iou.Mean), summaries.Average(x => x.PerImage.Dice.Mean));
        }
    }

    /// <summary>overlays_best.png: the first validation images with the best model's prediction and the ground truth.</summary>
    void SaveBestOverlays(nn.Module<Tensor, Tensor> model, SegmentationDataset dataset, IReadOnlyList<string> ids)
    {
        var chosen = ids.Take(config.OverlaySamples).ToList();
        if (chosen.Count == 0) return;
        // Training is over: the live model may take the best weights.
        using (var _ = no_grad())
        {
            var (weights, _) = UKan.Checkpoints.SafeTensors.Read(run.ExportedModel);
            UKan.Checkpoints.StateDictLoader.Load(model, weights, run.ExportedModel);
            foreach (var w in weights.Values) w.Dispose();
        }
        model.eval();
        var tiles = new List<Raster>();
        foreach (var batch in dataset.Plain(chosen, config.Batch).Select(f => f()))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (bx, _) = batch.ToTensors(device);
            var logits = model.call(bx);
            bool labels = config.Model.Loss == SegmentationLoss.CeDice;
            var pred = (labels ? ClassMasks.Labels(logits) : (logits > 0).to(ScalarType.Byte)[.., 0]).cpu();
            for (int i = 0; i < batch.Count; i++)
            {
                var (image, masks) = dataset.Display(batch.Ids[i]);
                var predicted = pred[i].data<byte>().ToArray();
                tiles.Add(labels ? Overlays.LabelTile(image, predicted, masks[0]) : Overlays.Tile(image, predicted, masks[0]));
            }
        }
        ImageFile.WritePng(run.Overlays, Overlays.Grid(tiles));
    }
}
