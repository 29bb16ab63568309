using System.CommandLine;
using System.Reflection;
using TorchSharp;
using UKan.Native;

namespace UKan.Cli.Commands;

/// <summary><c>ukan info</c>: what was loaded from where, so that a wrong setup is visible at a glance.</summary>
static class InfoCommand
{
    public static Command Create()
    {
        var command = new Command("info", "Show versions, where libtorch was loaded from, threads, GPUs and the malloc settings.");
        command.SetAction(parsed =>
        {
            var rt = CommandLine.StartTorch(parsed);
            foreach (var (key, value) in Describe(rt)) Console.WriteLine($"{key,-22} {value}");
            return 0;
        });
        return command;
    }

    public static IEnumerable<(string, string)> Describe(RuntimeInfo rt)
    {
        yield return ("ukan", AppVersion());
        yield return ("TorchSharp", typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "?");
        yield return ("libtorch", $"{rt.LibTorch.Version ?? "unknown"} ({rt.LibTorch.Source}, {(rt.LibTorch.HasCuda ? "CUDA" : "CPU only")})");
        yield return ("libtorch folder", rt.LibTorch.Path);
        yield return ("LibTorchSharp", rt.LibTorchSharpPath + (rt.PatchedForOldLibStdCxx ? " (copy patched: GLIBCXX_3.4.32 made weak)" : ""));
        yield return ("libstdc++", rt.LibStdCxxPath ?? "?");
        yield return ("Scalar frees", DeferredScalarFree.Status);
        yield return (".NET", Environment.Version.ToString());
        yield return ("CPU cores", Environment.ProcessorCount.ToString());
        yield return ("torch threads", torch.get_num_threads().ToString());
        yield return ("garbage collector", (System.Runtime.GCSettings.IsServerGC ? "server" : "workstation") + $", {System.Runtime.GCSettings.LatencyMode}");
        yield return ("malloc settings", MallocTuning.IsActive() ? $"active ({MallocTuning.Variable}={Environment.GetEnvironmentVariable(MallocTuning.Variable)})"
            : MallocTuning.InProcessState == "mallopt" ? "active in-process (mallopt)" : "NOT active (CPU training will be much slower)");
        if (rt.CpuConvolutions is { } conv)
        {
            yield return ("CPU convolutions", (conv.OneDnn ? "oneDNN" : "ATen (oneDNN off)") + $": {conv.Reason}");
            yield return ("oneDNN ISA", conv.Isa);
        }
        yield return ("device", rt.Device.ToString());
        var (driver, gpus) = Nvml.Query();
        yield return ("CUDA available", rt.Device.type == DeviceType.CUDA ? $"yes, {torch.cuda.device_count()} device(s)" : "no");
        if (driver is not null) yield return ("NVIDIA driver", driver);
        yield return ("libtorch CUDA shim", ShimLine(rt));
        yield return ("fused CUDA kernels", KernelsLine(rt));
        yield return ("NCCL (multi-GPU)", NcclLine(rt));
        foreach (var g in gpus)
            yield return ($"GPU {g.Index}", $"{g.Name}, {g.TotalBytes / (1 << 20):N0} MiB total, {g.FreeBytes / (1 << 20):N0} MiB free");
    }

    /// <summary>Where the compiled shim is and how long getting it took (compiled now, or loaded from the cache).</summary>
    static string ShimLine(RuntimeInfo rt)
    {
        if (!rt.LibTorch.HasCuda) return "not used (CPU-only libtorch)";
        return TorchCudaShim.Available && TorchCudaShim.Cache is { } c ? $"{c.Path} ({c.Describe()})" : $"unavailable: {TorchCudaShim.Problem}";
    }

    static string KernelsLine(RuntimeInfo rt)
    {
        if (rt.Device.type != DeviceType.CUDA) return "not used on the CPU";
        var kernels = UKan.Layers.KanFeatures.CudaKernels(DeviceIndex.Of(rt.Device));
        return kernels switch
        {
            FusedCudaKernels { Cache: { } c } k => $"{k.Architecture}, {c.Path} ({c.Describe()})",
            { } k => $"{k.Architecture} (compiled in memory: no cache folder)",
            null => $"unavailable: {UKan.Layers.KanFeatures.CudaProblem}",
        };
    }

    /// <summary>The libnccl.so.2 that --gpus N would use (the installed PyTorch's nvidia-nccl), or why there is none.</summary>
    static string NcclLine(RuntimeInfo rt)
    {
        if (!rt.LibTorch.HasCuda) return "not used (CPU-only libtorch)";
        return Nccl.Available ? $"{Nccl.Version}, {Nccl.LoadedPath}" : $"not found: {Nccl.Problem}";
    }

    public static string AppVersion() =>
        typeof(InfoCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "?";
}
