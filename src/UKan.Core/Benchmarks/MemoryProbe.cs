using TorchSharp;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Benchmarks;

/// <summary>
/// Peak memory of a region of work. CUDA: the caching allocator's peak allocated bytes (exact, as PyTorch's
/// max_memory_allocated) through <see cref="TorchCudaShim"/>, else the growth of the GPU's used memory seen by NVML
/// (the allocator never returns memory, so this is its peak reserved bytes: an upper bound). CPU: the process's peak
/// resident set (VmHWM after a reset through /proc/self/clear_refs; absolute, so it includes the runtime and libtorch).
/// </summary>
public sealed class MemoryProbe
{
    readonly Device device;
    long baseline;

    public string Method { get; }

    public MemoryProbe(Device device)
    {
        this.device = device;
        Method = device.type == DeviceType.CUDA
            ? TorchCudaShim.Available ? "CUDA allocator peak allocated" : $"NVML used-memory growth (allocator stats unavailable: {TorchCudaShim.Problem})"
            : "process peak RSS (VmHWM, absolute)";
    }

    /// <summary>Starts a region: clears the peak and records the baseline.</summary>
    public void Start()
    {
        BenchTimer.Synchronize(device);
        if (device.type == DeviceType.CUDA)
        {
            if (TorchCudaShim.Available) { TorchCudaShim.ResetPeak(DeviceIndex.Of(device)); baseline = 0; }
            else baseline = NvmlUsed();
        }
        else
        {
            try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            baseline = ReadStatus("VmRSS:");
        }
    }

    /// <summary>
    /// Peak bytes the caching allocator reserved from the driver since the last reset (CUDA with the shim; else 0).
    /// A CUDA graph's work runs in memory reserved at capture, where "allocated" no longer sees it: for graph replays
    /// this is the figure that counts.
    /// </summary>
    public long PeakReservedBytes()
    {
        BenchTimer.Synchronize(device);
        return device.type == DeviceType.CUDA && TorchCudaShim.Available ? TorchCudaShim.PeakReserved(DeviceIndex.Of(device)) : 0;
    }

    /// <summary>Peak bytes since <see cref="Start"/>; CUDA allocator figures are absolute (they include live tensors from before).</summary>
    public long PeakBytes()
    {
        BenchTimer.Synchronize(device);
        if (device.type == DeviceType.CUDA)
            return TorchCudaShim.Available ? TorchCudaShim.PeakAllocated(DeviceIndex.Of(device)) : NvmlUsed() - baseline;
        return ReadStatus("VmHWM:");
    }

    static long NvmlUsed()
    {
        var (_, gpus) = Nvml.Query();
        return gpus.Count == 0 ? 0 : gpus[0].TotalBytes - gpus[0].FreeBytes;
    }

    static long ReadStatus(string key)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(key))
                return long.Parse(line[key.Length..].Trim().Split(' ')[0]) * 1024;
        return 0;
    }
}
