using System.Diagnostics;
using TorchSharp;
using UKan.Data;
using UKan.Evaluation;
using UKan.Losses;
using UKan.Models;
using UKan.Native;
using UKan.Plots;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>What a finished (or stopped) run reports.</summary>
public sealed record TrainResult(string RunFolder, int EpochsDone, double BestIou, int BestEpoch, bool Stopped);

/// <summary>
/// Trains a segmentation model the way Seg_UKAN/train.py does (ukan-spec §A.8): per epoch, train on shuffled
/// batches with drop_last, validate, step the cosine schedule, log, and keep the best-validation-IoU model; plus
/// what the reference lacks: a resumable last checkpoint with optimizer state, atomic files, curves and overlays,
/// a CUDA-graph path on the GPU, and a clear error when the loss diverges.
/// </summary>
/// <remarks>
/// Determinism: the data order and every augmentation derive from (data seed, epoch, position), the model has no
/// random layers, and the optimizer state is saved, so on the CPU a resumed run is bit-identical to an uninterrupted one.
/// </remarks>
public sealed class Trainer
{
    readonly TrainConfig config;
    readonly RunFolder run;
    readonly ITrainingProgress progress;
    readonly Device device;

    Trainer(TrainConfig config, RunFolder run, ITrainingProgress progress, Device device) =>
        (this.config, this.run, this.progress, this.device) = (config, run, progress, device);

    /// <summary>
    /// Starts a new run in config.Output. Every setting and the data are checked before the folder is made, and a
    /// start that ends (error or Ctrl+C) before its first checkpoint removes the folder again, so that a failed start
    /// never leaves a run that can neither be resumed nor started again.
    /// </summary>
    public static TrainResult Start(TrainConfig config, ITrainingProgress progress, CancellationToken cancel = default)
    {
        config.Validate();
        var run = new RunFolder(config.Output);
        var folder = OpenData(config);
        var split = config.Split is null
            ? DataSplit.Make(folder.Ids, config.DataSeed, config.ValidationFraction)
            : DataSplit.Load(config.Split);
        split.CheckAgainst(folder.Ids, config.Data);
        if (split.Train.Count / config.Batch == 0)
            throw new UserError($"--batch {config.Batch}: larger than the {split.Train.Count} training images; lower --batch.");
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
                result = new Trainer(config, run, progress, TorchRuntime.Current.Device).Loop(folder, split, resumeFrom: null, cancel);
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

    /// <summary>Continues a run from its last checkpoint; <paramref name="epochs"/> may extend the schedule.</summary>
    public static TrainResult Resume(string runDir, int? epochs, ITrainingProgress progress, CancellationToken cancel = default)
    {
        var run = new RunFolder(runDir);
        using var runLock = UKan.IO.RunDirectory.OpenExisting(run.Root, UKan.IO.RunDirectory.Segmentation);
        if (!File.Exists(run.Config)) throw new UserError($"--resume {runDir}: no config.json there; give the folder of a run started with 'ukan train'.");
        if (!File.Exists(run.Last)) throw new UserError($"--resume {runDir}: no checkpoints/last.safetensors yet; the run stopped before its first epoch ended: start it again with 'ukan train --out {runDir}' and its settings.");
        var config = TrainConfig.Load(run.Config);
        if (epochs is int e) config = config with { Epochs = e };
        config.Validate();
        var folder = OpenData(config);
        if (!File.Exists(run.Split)) throw new UserError($"--resume {runDir}: split.json is missing; the run folder is damaged.");
        var split = DataSplit.Load(run.Split);
        split.CheckAgainst(folder.Ids, config.Data);
        AtomicFile.WriteAllText(run.Config, config.ToJson());
        return new Trainer(config, run, progress, TorchRuntime.Current.Device).Loop(folder, split, resumeFrom: run.Last, cancel);
    }

    static SegmentationFolder OpenData(TrainConfig config)
    {
        if (!Directory.Exists(config.Data)) throw new UserError($"--data {config.Data}: folder not found; it must hold images/ and masks/0/ (see 'ukan data prepare').");
        var report = DataCheck.Run(config.Data, config.Model.NumClasses);
        if (!report.Ok)
        {
            var errors = report.Errors.ToList();
            var first = errors[0];
            throw new UserError($"--data {config.Data}: {errors.Count} data problem(s), first: {first.Path}: {first.Problem}; run 'ukan data check {config.Data}' for the full list.");
        }
        return new SegmentationFolder(config.Data, config.Model.NumClasses);
    }

    TrainResult Loop(SegmentationFolder folder, DataSplit split, string? resumeFrom, CancellationToken cancel)
    {
        bool graphs = config.CudaGraphs && device.type == DeviceType.CUDA && TorchCudaShim.Available;
        // Everything runs on a side stream when graphs are used (see SideStreamScope: from the first forward pass on).
        using var side = graphs ? new SideStreamScope(DeviceIndex.Of(device)) : null;
        if (device.type == DeviceType.CUDA) UKan.Benchmarks.PrecisionSettings.EnableCudnnBenchmark();
        // Training, validation and the exported model's overlays all run in the run's precision; restored afterwards.
        using var precision = UKan.Benchmarks.PrecisionSettings.Scope(config.Precision, device);

        manual_seed(config.TorchSeed);
        var model = ModelFactory.Create(config.Model);
        int startEpoch = 0, bestEpoch = -1;
        double bestIou = double.NegativeInfinity;
        long steps = 0;
        Dictionary<string, Tensor>? resumeTensors = null;
        if (resumeFrom is not null)
        {
            var (tensors, state) = TrainingCheckpoint.Read(resumeFrom);
            TrainingCheckpoint.LoadModel(model, tensors, resumeFrom);
            (startEpoch, steps, bestIou, bestEpoch) = (state.Epoch + 1, state.Steps, state.BestIou, state.BestEpoch);
            resumeTensors = tensors;
        }
        model.to(device);
        var named = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new FlatAdam(
            ParameterGroups.Official(named, config.Lr, config.WeightDecay, config.KanLr, config.KanWeightDecay), capturable: graphs,
            channelsLast: config.ChannelsLast);
        if (resumeTensors is not null) optimizer.LoadState(resumeTensors, steps);

        var dataset = new SegmentationDataset(folder, config.Height, config.Width, config.Preprocessing, config.Model.InChannels);
        var records = run.ReadMetrics().Where(r => r.Epoch < startEpoch).ToList();
        var events = torch.utils.tensorboard.SummaryWriter(run.Events);
        var lossFn = new BceDiceLoss();
        int stepsPerEpoch = split.Train.Count / config.Batch;
        if (stepsPerEpoch == 0)
            throw new UserError($"--batch {config.Batch}: larger than the {split.Train.Count} training images; lower --batch.");

        // Static device buffers: a graph replays on fixed addresses, and eager steps reuse them too.
        var x = config.ChannelsLast
            ? zeros(config.Batch, config.Height, config.Width, config.Model.InChannels, device: device).permute(0, 3, 1, 2)
            : zeros(config.Batch, config.Model.InChannels, config.Height, config.Width, device: device);
        var t = zeros(config.Batch, config.Model.NumClasses, config.Height, config.Width, device: device);
        var lossSum = zeros(1, device: device);
        var iouSum = zeros(1, device: device);
        using var graph = graphs ? new CudaGraph() : null;
        bool captured = false, warmedUp = false;

        void Step()
        {
            using var scope = NewDisposeScope();
            optimizer.ZeroGrad();
            var logits = model.call(x);
            var loss = lossFn.call(logits, t);
            loss.backward();
            optimizer.Step();
            using (no_grad())
            {
                // The reference logs the IoU of each training batch with all its pixels pooled.
                var p = logits > 0;
                var g = t > 0.5;
                var iou = ((p & g).sum().to(float32) + 1e-5) / ((p | g).sum().to(float32) + 1e-5);
                lossSum.add_(loss.detach().reshape(1));
                iouSum.add_(iou.reshape(1));
            }
        }

        int epoch = startEpoch;
        bool stopped = false;
        for (; epoch < config.Epochs; epoch++)
        {
            var clock = Stopwatch.StartNew();
            foreach (var group in optimizer.Groups)
                group.LearningRate = LearningRateSchedules.Cosine(group.Settings.LearningRate, epoch, config.Epochs, config.MinLr);
            model.train();
            lossSum.zero_();
            iouSum.zero_();
            progress.EpochStarted(epoch, config.Epochs, stepsPerEpoch);
            int step = 0;
            foreach (var batch in Prefetch.Ahead(dataset.TrainingEpoch(split.Train, config.Batch, config.DataSeed, epoch)))
            {
                if (cancel.IsCancellationRequested) { stopped = true; break; }
                using (var scope = NewDisposeScope())
                using (no_grad())
                {
                    var (bx, bt) = batch.ToTensors(CPU);
                    x.copy_(bx);
                    t.copy_(bt);
                }
                if (graph is null) Step();
                // The first step of every process (a resumed run's too) runs eagerly: it creates the cuBLAS/cuDNN
                // handles and workspaces, which cannot be allocated during a capture.
                else if (!warmedUp) { Step(); warmedUp = true; }
                else
                {
                    if (!captured) { graph.Capture(Step, warmup: 0); captured = true; }
                    graph.Replay();
                }
                step++;
                steps++;
                progress.StepDone(epoch, step, stepsPerEpoch, double.NaN);
            }
            if (stopped) break;

            double trainLoss = lossSum.cpu().item<float>() / stepsPerEpoch;
            double trainIou = iouSum.cpu().item<float>() / stepsPerEpoch;
            if (!double.IsFinite(trainLoss))
                throw new UserError($"the training loss became {trainLoss} in epoch {epoch}; the learning rates are too high for this data (--lr {config.Lr}, --kan-lr {config.KanLr}): lower them. " +
                    (File.Exists(run.Last) ? $"The last good checkpoint is {run.Last}." : "No epoch had finished, so nothing was kept."));

            ValidationScores? val = (epoch + 1) % config.ValidateEvery == 0 || epoch == config.Epochs - 1
                ? Validate(model, dataset, split.Validation, lossFn) : null;
            bool best = val is not null && val.Iou > bestIou;
            if (best) { bestIou = val!.Iou; bestEpoch = epoch; }

            var state = new TrainingCheckpoint.State(epoch, steps, bestIou, bestEpoch, config.Model, config.ToJson());
            if (best)
            {
                TrainingCheckpoint.Save(run.Best, model, optimizer, state);
                ModelExport.Save(run.ExportedModel, model, config.Model, $"best validation IoU {bestIou:F4} at epoch {epoch}");
                SaveOverlays(model, dataset, split.Validation);
            }
            TrainingCheckpoint.Save(run.Last, model, optimizer, state);

            var lrs = optimizer.Groups.ToDictionary(g => g.Settings.Name, g => g.LearningRate);
            var record = new EpochRecord(epoch, lrs.GetValueOrDefault("base"), lrs.GetValueOrDefault("kan"), trainLoss, trainIou,
                val?.Loss, val?.Iou, val?.Dice, val?.IouPerImage, val?.DicePerImage, clock.Elapsed.TotalSeconds, best);
            records.Add(record);
            run.WriteMetrics(records);
            TrainingCurves.Save(run.Curves, records);
            events.add_scalar("train/loss", (float)trainLoss, epoch);
            events.add_scalar("train/iou", (float)trainIou, epoch);
            if (val is not null)
            {
                events.add_scalar("val/loss", (float)val.Loss, epoch);
                events.add_scalar("val/iou", (float)val.Iou, epoch);
                events.add_scalar("val/dice", (float)val.Dice, epoch);
                events.add_scalar("val/iou_per_image", (float)val.IouPerImage, epoch);
            }
            progress.EpochDone(record, config.Epochs);

            if (config.EarlyStopping > 0 && bestEpoch >= 0 && epoch - bestEpoch >= config.EarlyStopping)
            {
                progress.Message($"early stopping: no better validation IoU for {config.EarlyStopping} epochs.");
                epoch++;
                break;
            }
        }
        return new TrainResult(run.Root, epoch, bestIou, bestEpoch, stopped);
    }

    /// <summary>Validation scores in both ways: official (batch-pooled, batch-size weighted) and per-image means.</summary>
    public sealed record ValidationScores(double Loss, double Iou, double Dice, double IouPerImage, double DicePerImage);

    /// <summary>
    /// Loss and IoU/Dice over the validation ids in batches of the training batch size, as validate() in the
    /// reference (IoU pooled over each batch, Dice = 2·IoU/(1+IoU), batch-size weighted), plus the per-image means.
    /// HD95 is left to the final evaluation: it is the slow part and not used for model selection.
    /// </summary>
    public ValidationScores Validate(nn.Module<Tensor, Tensor> model, SegmentationDataset dataset, IReadOnlyList<string> ids, BceDiceLoss lossFn)
    {
        var (summary, _, loss) = Evaluator.Run(model, dataset, ids, device, config.Batch, hd95: false, loss: lossFn);
        model.train();
        return new ValidationScores(loss, summary.Official.Iou, summary.Official.Dice, summary.PerImage.Iou.Mean, summary.PerImage.Dice.Mean);
    }

    void SaveOverlays(nn.Module<Tensor, Tensor> model, SegmentationDataset dataset, IReadOnlyList<string> ids)
    {
        var chosen = ids.Take(config.OverlaySamples).ToList();
        if (chosen.Count == 0) return;
        model.eval();
        var tiles = new List<Raster>();
        foreach (var batch in dataset.Plain(chosen, config.Batch).Select(f => f()))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (bx, _) = batch.ToTensors(device);
            var pred = (model.call(bx) > 0).to(ScalarType.Byte).cpu();
            for (int i = 0; i < batch.Count; i++)
            {
                var (image, masks) = dataset.Display(batch.Ids[i]);
                tiles.Add(Overlays.Tile(image, pred[i][0].data<byte>().ToArray(), masks[0]));
            }
        }
        model.train();
        ImageFile.WritePng(run.Overlays, Overlays.Grid(tiles));
    }
}
