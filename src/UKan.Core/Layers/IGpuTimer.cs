namespace UKan.Layers;

/// <summary>The GPU time of queued work, without the CPU's launch gaps (UKan.Native's GpuTimer).</summary>
public interface IGpuTimer
{
    /// <summary>
    /// Milliseconds of GPU time that <paramref name="work"/> (launched on torch's current stream) takes when its kernels
    /// run back to back, as in a replayed CUDA graph; it is queued behind a wait long enough for the CPU to launch it all.
    /// </summary>
    double GpuMilliseconds(Action work);
}
