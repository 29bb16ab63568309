using TorchSharp;
using UKan.Losses;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Benchmarks;

public sealed record ModelBenchResult(
    string Model, long Parameters, int Batch, int Size, string Precision, string Device, string Mode,
    Timing TrainStep, Timing Inference, double TrainImagesPerSecond, double InferenceImagesPerSecond,
    long TrainPeakBytes, long InferencePeakBytes, string MemoryMethod, long TrainPeakReservedBytes = 0, long InferencePeakReservedBytes = 0)
{
    /// <summary>Eager step split into its phases (forward with the loss, backward, optimizer), when asked for.</summary>
    public StepPhases? Phases { get; init; }
}

/// <summary>
/// Where an eager training step's time goes. Each phase is bracketed by device synchronisations, so the phases add up
/// to a little more than the unbracketed step (the GPU can no longer overlap one phase's tail with the next's launches).
/// </summary>
public sealed record StepPhases(Timing Forward, Timing Backward, Timing Optimizer);

/// <summary>
/// One training step (forward, BCE+Dice, backward, Adam with U-KAN's two groups) and one inference pass, timed on
/// random inputs, as docs/results.md §2c measured the official code (so the two compare directly).
/// </summary>
public static class ModelBench
{
    /// <param name="graphs">Record the step in a CUDA graph and time its replays (CUDA only, needs the libtorch shim).</param>
    /// <remarks>The step is <see cref="TrainingStep"/>, the trainer's: what is timed here is what an epoch repeats.</remarks>
    public static ModelBenchResult Run(ModelSpec spec, int batch, int size, Precision precision, Device device, int warmup = 10, int runs = 40, bool graphs = false, bool? cudnnBenchmark = null, bool channelsLast = false, bool phases = false)
    {
        graphs &= device.type == DeviceType.CUDA && UKan.Native.TorchCudaShim.Available;
        PrecisionSettings.Apply(precision);
        // The trainer's default unless asked otherwise, so that bench times the step training runs.
        bool autotune = device.type == DeviceType.CUDA
            && PrecisionSettings.EnableCudnnBenchmark(cudnnBenchmark ?? new TrainConfig { Data = "", Output = "" }.CudnnAutotune);
        // Graph mode runs everything on a side stream from the first forward pass on (see SideStreamScope).
        using var side = graphs ? new UKan.Native.SideStreamScope(UKan.Native.DeviceIndex.Of(device)) : null;
        manual_seed(0);
        var model = ModelFactory.Create(spec);
        model.to(device);
        var named = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        using var optimizer = new FlatAdam(ParameterGroups.Official(named), capturable: graphs, channelsLast: channelsLast);
        var loss = new BceDiceLoss();
        var x = randn(batch, spec.InChannels, size, size, device: device);
        var target = (rand(batch, spec.NumClasses, size, size, device: device) > 0.5).to(float32);
        var probe = new MemoryProbe(device);

        model.train();
        // The trainer's own step (graph capture, loss and IoU sums on the device), so that bench times what training runs.
        using var step = new TrainingStep(model, optimizer, loss, batch, spec.InChannels, spec.NumClasses, size, size, device, graphs, channelsLast);
        step.Images.copy_(x);
        step.Targets.copy_(target);
        // channels_last strides: (B, H, W, C) in memory, viewed as (B, C, H, W); the phase split and inference use them too.
        x = step.Images;
        step.Run();   // eager warm-up (handles, workspaces)
        step.Run();   // with graphs: the capture and a first replay, before memory is measured, as before
        probe.Start();
        var train = BenchTimer.Measure(() => step.Run(), warmup, runs, device);
        long trainPeak = probe.PeakBytes(), trainReserved = probe.PeakReservedBytes();
        StepPhases? split = null;
        if (phases)
        {
            // Eager even when the step above ran as a graph (a replay cannot be cut into phases); same stream, same optimizer.
            var (fwd, bwd, opt) = (new List<double>(), new List<double>(), new List<double>());
            for (int i = 0; i < warmup + runs; i++)
            {
                using var scope = NewDisposeScope();
                Tensor l = null!;
                double a = BenchTimer.Time(() => l = loss.call(model.call(x), target), device);
                // Backward as the step runs it: the gradients zeroed, then gathered or accumulated into the flat buffers.
                double b = BenchTimer.Time(() => TrainingStep.Backward(l, optimizer, step.GathersGradients), device);
                double c = BenchTimer.Time(optimizer.Step, device);
                if (i < warmup) continue;
                fwd.Add(a); bwd.Add(b); opt.Add(c);
            }
            split = new StepPhases(Timing.Of(fwd), Timing.Of(bwd), Timing.Of(opt));
        }

        // As the inference commands run it: conv → BN pairs folded unless UKAN_FOLD_BN=off (after the training steps, whose
        // weights the folded copies take; the channels_last layout is kept).
        bool foldedBn = UKan.Layers.BatchNormFold.ApplyForInference(model) > 0;
        void Infer()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            model.call(x);
        }
        Infer();
        Action inferRun = Infer;
        using var inferGraph = graphs ? new UKan.Native.CudaGraph() : null;
        if (inferGraph is not null) { inferGraph.Capture(Infer); inferRun = inferGraph.Replay; }
        probe.Start();
        var infer = BenchTimer.Measure(inferRun, warmup, runs, device);
        long inferPeak = probe.PeakBytes(), inferReserved = probe.PeakReservedBytes();

        bool fused = UKan.Layers.KanFeatures.UseFusedKernels && device.type == DeviceType.CUDA && UKan.Layers.KanFeatures.CudaKernels(UKan.Native.DeviceIndex.Of(device)) is not null;
        var mode = (graphs ? "graph" : "eager") + (autotune ? "+cudnnbench" : "") + (fused ? "+fused" : "")
            + (fused && UKan.Layers.BatchNormRelu.SwitchedOn ? "+bn-relu" : "")
            + (fused && UKan.Layers.UpsampleRelu.SwitchedOn ? "+upsample-relu" : "")
            + (fused && UKan.Layers.UpsampleRelu.SwitchedOn && UKan.Layers.UpsampleRelu.SkipSwitchedOn ? "+skip" : "")
            + (fused && UKan.Layers.UpsampleRelu.SwitchedOn && UKan.Layers.UpsampleReluHead.SwitchedOn ? "+head" : "")
            + (fused && UKan.Layers.MaxPoolRelu.SwitchedOn ? "+maxpool-relu" : "")
            + (fused && UKan.Layers.FusedLayerNorm.SwitchedOn ? "+layer-norm" : "")
            + (fused && UKan.Training.FlatAdam.FusedSwitchedOn ? "+adam" : "")
            + (fused && UKan.Losses.FusedBceDice.SwitchedOn ? "+loss" : "")
            + (fused && UKan.Training.StepScores.SwitchedOn ? "+scores" : "")
            + (UKan.Layers.KanLinear.GlobalPath == UKan.Layers.KanPath.General ? "+kan-general" : "") + (channelsLast ? "+channels-last" : "")
            + (foldedBn ? "+bn-folded" : "") + (foldedBn && fused && UKan.Layers.BiasRelu.SwitchedOn ? "+bias-relu" : "");
        return new ModelBenchResult(spec.Describe(), ModelFactory.CountParameters(model), batch, size, precision.ToString().ToLowerInvariant(),
            device.ToString(), mode, train, infer, batch * 1000 / train.MedianMs, batch * 1000 / infer.MedianMs, trainPeak, inferPeak, probe.Method, trainReserved, inferReserved)
        { Phases = split };
    }
}
