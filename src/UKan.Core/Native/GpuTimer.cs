using UKan.Layers;

namespace UKan.Native;

/// <summary>
/// Times work on the GPU as a replayed CUDA graph runs it: a wait kernel (Native/Kernels/gpu_wait.cu) holds torch's
/// current stream while the CPU queues the work, and two events around the work measure its GPU time. Timed with a
/// stopwatch between synchronisations instead, work of tens of microseconds per launch measures the CPU's launch cost
/// (on an H200, a 160-channel KAN layer's y = F·Wᵀ at 256²: 0.060 ms a product by the stopwatch, 0.037 here;
/// docs/results.md §2q).
/// If the CPU took longer to queue the work than the wait lasted, the GPU idled in between: the wait is doubled and
/// the work timed again (up to <see cref="Attempts"/> times).
/// </summary>
public sealed class GpuTimer(CudaKernelModule module) : IGpuTimer
{
    /// <summary>The kernel in the CUDA source.</summary>
    public const string Function = "gpu_wait";

    /// <summary>The first wait: 2 ms (ten launches of a product, split and merged, take well under that on the CPU).</summary>
    const double FirstWaitMs = 2;

    const int Attempts = 4;

    readonly IntPtr wait = module.Function(Function);

    public double GpuMilliseconds(Action work)
    {
        double waitMs = FirstWaitMs, ms = 0;
        for (int attempt = 0; attempt < Attempts; attempt++, waitMs *= 2)
        {
            var (gpu, queued) = module.TimeQueued(wait, (long)(waitMs * 1e6), work);
            ms = gpu;
            if (queued < 0.8 * waitMs) break;
        }
        return ms;
    }
}
