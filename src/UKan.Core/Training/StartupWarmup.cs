using TorchSharp;
using UKan.Models;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// The GPU's one-time start-up costs, paid on a background thread from the moment a run's settings are known, while
/// the main thread checks, decodes and uploads the dataset: compiling or loading the libtorch shim, loading the CUDA
/// modules of the kernels a step uses (CUDA loads them lazily, at first launch), cuDNN's engine libraries and
/// heuristics for each convolution shape (and its autotuning, when asked for), cuBLAS and its handles, the KAN
/// kernels' runtime compilation, and .NET's JIT of the model's code. It builds a model of the run's architecture of
/// its own and runs one training step (forward, loss, backward, optimizer) and one eval-mode forward pass on zero
/// batches of the run's shapes, in the run's precision, layout and stream set-up, then throws that model away. All of
/// those costs are per process, not per model, so the run's own first step finds them paid.
/// </summary>
/// <remarks>
/// <para>Why its own model: the run's model is then untouched (weights, batch norm statistics, optimizer state), and
/// the warm-up can start before the data check, the longest part of start-up that needs no GPU. The one shared state
/// is torch's global random generator: the warm-up's model draws its initial weights from it, so the trainer calls
/// <see cref="WaitForModel"/> before it seeds the generator and makes the run's model; the CUDA generator is
/// re-seeded with the run's seed at the end, as the trainer's seeding left it.</para>
/// <para>Measured on a host with two H200 (docs/results.md §4): when the warm-up used the run's own model and started
/// only after the model was made, it took the first epoch from 2.93 s to 1.72–2.22 s but did not shorten the time from
/// process start to the end of the first epoch (5.48 s before, 5.92–6.22 s with it); starting before the data check
/// is what hides it. On by default on CUDA; <c>UKAN_WARMUP=off</c> turns it off (for comparison). Not used with
/// <c>--deterministic</c>, whose settings must precede the first convolution and matrix product.</para>
/// </remarks>
public sealed class StartupWarmup : IDisposable
{
    readonly Thread thread;
    readonly ManualResetEventSlim modelMade = new(false);
    Exception? failure;
    volatile bool abandoned;

    /// <summary>Whether the environment leaves the warm-up on (anything but UKAN_WARMUP=off, 0 or false).</summary>
    public static bool Enabled => !EnvironmentSwitch.IsOffIn("UKAN_WARMUP");

    /// <summary>Starts the warm-up for a run of <paramref name="config"/> on <paramref name="device"/>, or returns null where it does not apply (not CUDA, turned off, deterministic).</summary>
    public static StartupWarmup? Begin(TrainConfig config, Device device) =>
        device.type == DeviceType.CUDA && Enabled && !config.Deterministic ? new StartupWarmup(config, device) : null;

    /// <summary>Starts the warm-up on any device (the CPU in tests); the trainer calls <see cref="Begin"/>.</summary>
    public StartupWarmup(TrainConfig config, Device device)
    {
        thread = new Thread(() =>
        {
            try { Run(config, device); }
            catch (Exception e) { failure = e; }
            finally { modelMade.Set(); }
        })
        { IsBackground = true, Name = "ukan-warmup" };
        thread.Start();
    }

    void Run(TrainConfig config, Device device)
    {
        nn.Module<Tensor, Tensor> model;
        try { model = ModelFactory.Create(config.Model); }
        finally { modelMade.Set(); }
        bool onGpu = device.type == DeviceType.CUDA;
        using var _model = model;
        if (abandoned) return;
        // The same stream set-up as the trainer's (see Trainer.Loop): the shim is compiled here on a machine that
        // never ran ukan, and a CUDA-graph run works on a side stream.
        bool graphs = Trainer.UsesCudaGraphs(config, device);
        if (abandoned) return;
        using var side = graphs ? new SideStreamScope(DeviceIndex.Of(device)) : null;
        if (onGpu) PrecisionSettings.EnableCudnnBenchmark(config.CudnnAutotune);
        using var precision = PrecisionSettings.Scope(config.Precision, device);
        using var scope = NewDisposeScope();
        model.to(device);
        using var optimizer = Trainer.NewOptimizer(model, config, graphs);
        var x = TrainingStep.InputBuffer(config.Batch, config.Model.InChannels, config.Height, config.Width, device, config.ChannelsLast);
        var t = zeros(config.Batch, config.Model.NumClasses, config.Height, config.Width, device: device);
        using var lossFn = UKan.Losses.ModelLoss.Create(config.Model.Loss);
        model.train();
        // The step's work, deep supervision's heads included, its gradients delivered as a step without the data-parallel
        // overlap delivers them (whether a run overlaps is known only once its workers have met).
        TrainingStep.Backward(UKan.Losses.ModelLoss.Of(model, lossFn, x, t).Loss, optimizer, TrainingStep.GathersWith(reducer: null));
        optimizer.Step();
        model.eval();
        using (no_grad()) model.call(x);
        if (onGpu && !abandoned)
        {
            cuda.synchronize(device);
            cuda.manual_seed_all(config.TorchSeed);
        }
    }

    /// <summary>Blocks until the warm-up's model has drawn its initial weights from torch's global generator.</summary>
    public void WaitForModel() => modelMade.Wait();

    /// <summary>
    /// Waits for the warm-up. Its failure is not the user's problem (the first step does the same work and reports a
    /// real error itself): the one-line reason is returned, for a note, or null.
    /// </summary>
    public string? Finish()
    {
        thread.Join();
        return failure?.Message.Split('\n')[0];
    }

    /// <summary>
    /// Leaves the warm-up to end on its own without waiting (a start-up that fails on the data check reports at once,
    /// not after a first compilation of the shim): the thread stops at its next stage and does not touch the random
    /// generators; it is a background thread, so it does not keep the process alive.
    /// </summary>
    public void Dispose() => abandoned = true;
}
