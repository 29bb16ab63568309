namespace UKan.Native;

/// <summary>
/// A CUDA graph of torch work (at::cuda::CUDAGraph): <see cref="Capture"/> records a piece of work once, after
/// warm-up runs; <see cref="Replay"/> re-issues all of its kernels with one launch. Capture and warm-up must run
/// inside a <see cref="SideStreamScope"/>. A capture records without executing. Every tensor the work reads or writes
/// must keep its address: copy new inputs into the captured input tensors before each replay.
/// </summary>
public sealed class CudaGraph : IDisposable
{
    IntPtr handle;

    public CudaGraph() => handle = TorchCudaShim.GraphCreate();

    /// <summary>Runs <paramref name="work"/> <paramref name="warmup"/> times, then records one more run (not executed).</summary>
    public void Capture(Action work, int warmup = 3)
    {
        for (int i = 0; i < warmup; i++) work();
        Interlocked.Increment(ref capturing);
        try
        {
            TorchCudaShim.CaptureBegin(handle);
            try { work(); }
            finally { TorchCudaShim.CaptureEnd(handle); }
        }
        finally { Interlocked.Decrement(ref capturing); }
    }

    static int capturing;

    /// <summary>
    /// Whether a capture is being recorded anywhere in the process (work that would wait for the GPU, such as timing,
    /// must not run then; backward runs on autograd's threads, so this is not per thread).
    /// </summary>
    public static bool AnyCapturing => Volatile.Read(ref capturing) > 0;

    public void Replay() => TorchCudaShim.Replay(handle);

    public void Dispose()
    {
        if (handle != IntPtr.Zero) { TorchCudaShim.GraphDestroy(handle); handle = IntPtr.Zero; }
    }
}
