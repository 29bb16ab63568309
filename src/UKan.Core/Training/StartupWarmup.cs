using TorchSharp;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// The GPU's one-time start-up costs, paid on a background thread while the main thread decodes and uploads the
/// dataset: loading the CUDA modules of every kernel a step uses (CUDA loads them lazily, at first launch), cuDNN's
/// engine libraries and heuristics for each convolution shape (and its autotuning, when asked for), cuBLAS and its
/// handles, the KAN kernels' runtime compilation, and .NET's JIT of the step's code. It runs one forward and backward
/// pass in training mode and one forward pass in eval mode on zero batches of the training shapes, through the
/// trainer's own model, on the trainer's side stream (autograd binds gradient accumulators to the stream of the first
/// backward, see <see cref="SideStreamScope"/>), and then puts back what those passes changed: the buffers (batch
/// norm's running statistics and counters) are restored from a copy and the gradients zeroed; no optimizer step is
/// taken. So the run that follows is the run without the warm-up: same weights, buffers and random draws (the CUDA
/// generator is re-seeded with the run's seed, as the trainer's seeding left it, in case the model draws random
/// numbers in training mode).
/// </summary>
/// <remarks>
/// Opt-in (<c>UKAN_WARMUP=on</c>): measured on a host with two H200 (docs/results.md §4, 2026-11-30), it brought the
/// first epoch from 2.93 s to 1.72–2.22 s, but the time from process start to the end of the first epoch went from
/// 5.48 s to 5.92–6.22 s: the thread needed 2.0–2.6 s, more than the 1.75 s eager first step it replaces (it shares the
/// host with the parallel decoding, and the main thread's first step still took 0.6–0.8 s), and the 0.7–1.0 s of data
/// loading hid only part of it. So it moves one-time work out of the first epoch without shortening the run, and is
/// off by default. Not used for data-parallel workers, whose forward passes talk to each other (synchronised batch
/// norm).
/// </remarks>
public sealed class StartupWarmup : IDisposable
{
    readonly Thread thread;
    Exception? failure;

    /// <summary>Whether the environment asks for the warm-up (UKAN_WARMUP=on, 1 or true).</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable("UKAN_WARMUP")?.Trim().ToLowerInvariant() is "on" or "1" or "true";

    StartupWarmup(Action work)
    {
        thread = new Thread(() =>
        {
            try { work(); }
            catch (Exception e) { failure = e; }
        })
        { IsBackground = true, Name = "ukan-warmup" };
        thread.Start();
    }

    /// <summary>Starts the warm-up of <paramref name="model"/> for batches of the given shape; call <see cref="Finish"/> before the model's first step.</summary>
    public static StartupWarmup Start(nn.Module<Tensor, Tensor> model, Func<nn.Module<Tensor, Tensor, Tensor>> loss, int batch, int channels,
        int classes, int height, int width, Device device, bool channelsLast, bool sideStream, Precision precision, long seed) =>
        new(() =>
        {
            // The main thread's stream and precision are per thread: this one enters the same ones.
            using var side = sideStream ? new SideStreamScope(DeviceIndex.Of(device)) : null;
            using var _precision = PrecisionSettings.Scope(precision, device);
            using var scope = NewDisposeScope();
            var buffers = model.named_buffers().Select(b => (b.buffer, Copy: b.buffer.clone())).ToList();
            try
            {
                var x = TrainingStep.InputBuffer(batch, channels, height, width, device, channelsLast);
                var t = zeros(batch, classes, height, width, device: device);
                using var lossFn = loss();
                model.train();
                UKan.Losses.ModelLoss.Of(model, lossFn, x, t).Loss.backward();   // the step's work, deep supervision's heads included
                model.eval();
                using (no_grad()) model.call(x);
            }
            finally
            {
                // Whatever happened above, the model is left as it was.
                model.train();
                using (no_grad())
                {
                    foreach (var (buffer, copy) in buffers) buffer.copy_(copy);
                    foreach (var p in model.parameters()) p.grad?.zero_();
                }
                if (device.type == DeviceType.CUDA)
                {
                    cuda.synchronize(device);
                    cuda.manual_seed_all(seed);
                }
            }
        });

    /// <summary>
    /// Waits for the warm-up. Its failure is not the user's problem (the first step does the same work and reports a
    /// real error itself): the one-line reason is returned, for a note, or null.
    /// </summary>
    public string? Finish()
    {
        thread.Join();
        return failure?.Message.Split('\n')[0];
    }

    /// <summary>Waits for the thread (when the start-up failed before <see cref="Finish"/>: it must not outlive the model).</summary>
    public void Dispose() => thread.Join();
}
