using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace UKan.Native;

/// <summary>
/// Exact statistics of libtorch's CUDA caching allocator (what PyTorch's torch.cuda.max_memory_allocated reports),
/// which TorchSharp does not expose. The allocator's accessors are C++ inline functions, so a five-function C shim is
/// compiled against the headers of the libtorch in use, on first need, with the machine's C++ compiler, and cached.
/// Where that is impossible (no compiler, no headers) <see cref="Available"/> is false and callers fall back to NVML.
/// </summary>
public static partial class CudaAllocatorStats
{
    const string Source = """
        #include <c10/cuda/CUDACachingAllocator.h>
        extern "C" {
        long long ukan_peak_allocated(int d) { return c10::cuda::CUDACachingAllocator::getDeviceStats(d).allocated_bytes[0].peak; }
        long long ukan_peak_reserved(int d) { return c10::cuda::CUDACachingAllocator::getDeviceStats(d).reserved_bytes[0].peak; }
        long long ukan_current_allocated(int d) { return c10::cuda::CUDACachingAllocator::getDeviceStats(d).allocated_bytes[0].current; }
        void ukan_reset_peak(int d) { c10::cuda::CUDACachingAllocator::resetPeakStats(d); }
        void ukan_empty_cache() { c10::cuda::CUDACachingAllocator::emptyCache(); }
        }
        """;

    delegate long StatFn(int device);
    delegate void ResetFn(int device);
    delegate void EmptyFn();

    static readonly Lazy<(StatFn Alloc, StatFn Reserved, StatFn Current, ResetFn Reset, EmptyFn Empty)?> loaded = new(Load);
    public static string? Problem { get; private set; }

    public static bool Available => loaded.Value is not null;
    public static long PeakAllocated(int device = 0) => loaded.Value!.Value.Alloc(device);
    public static long PeakReserved(int device = 0) => loaded.Value!.Value.Reserved(device);
    public static long CurrentAllocated(int device = 0) => loaded.Value!.Value.Current(device);
    public static void ResetPeak(int device = 0) => loaded.Value!.Value.Reset(device);
    public static void EmptyCache() => loaded.Value!.Value.Empty();

    static (StatFn, StatFn, StatFn, ResetFn, EmptyFn)? Load()
    {
        try
        {
            var rt = TorchRuntime.Current;
            if (!rt.LibTorch.HasCuda) { Problem = "libtorch has no CUDA"; return null; }
            var lib = rt.LibTorch.Path;
            var include = Path.GetFullPath(Path.Combine(lib, "..", "include"));
            if (!Directory.Exists(Path.Combine(include, "c10"))) { Problem = $"no libtorch headers at {include}"; return null; }
            var cudaInclude = FindCudaInclude(lib);
            var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(lib + Source + (rt.LibTorch.Version ?? ""))))[..16];
            var dir = Path.Combine(TorchRuntime.CacheFolder(), "cudastats", key);
            var so = Path.Combine(dir, "libukan_cudastats.so");
            if (!File.Exists(so))
            {
                Directory.CreateDirectory(dir);
                var src = Path.Combine(dir, "shim.cpp");
                File.WriteAllText(src, Source);
                var tmp = so + $".{Environment.ProcessId}.tmp";
                var args = $"-O1 -shared -fPIC -std=c++17 -I\"{include}\" {(cudaInclude is null ? "" : $"-I\"{cudaInclude}\"")} \"{src}\" -L\"{lib}\" -lc10_cuda -lc10 -o \"{tmp}\"";
                var error = RunCompiler(args);
                if (error is not null) { Problem = error; return null; }
                File.Move(tmp, so, overwrite: true);
            }
            var h = NativeLibrary.Load(so);
            return (Marshal.GetDelegateForFunctionPointer<StatFn>(NativeLibrary.GetExport(h, "ukan_peak_allocated")),
                    Marshal.GetDelegateForFunctionPointer<StatFn>(NativeLibrary.GetExport(h, "ukan_peak_reserved")),
                    Marshal.GetDelegateForFunctionPointer<StatFn>(NativeLibrary.GetExport(h, "ukan_current_allocated")),
                    Marshal.GetDelegateForFunctionPointer<ResetFn>(NativeLibrary.GetExport(h, "ukan_reset_peak")),
                    Marshal.GetDelegateForFunctionPointer<EmptyFn>(NativeLibrary.GetExport(h, "ukan_empty_cache")));
        }
        catch (Exception e) { Problem = e.Message.Split('\n')[0]; return null; }
    }

    static string? FindCudaInclude(string torchLib)
    {
        // A CUDA toolkit has complete headers (/usr/local/cuda/include); pip wheels carry some under
        // site-packages/nvidia/*/include, but not always crt/host_config.h, which cuda_runtime.h needs.
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("CUDA_HOME") is { Length: > 0 } home) candidates.Add(Path.Combine(home, "include"));
        candidates.Add("/usr/local/cuda/include");
        var nvidia = Path.GetFullPath(Path.Combine(torchLib, "..", "..", "nvidia"));
        if (Directory.Exists(nvidia))
            candidates.AddRange(Directory.GetDirectories(nvidia).Select(d => Path.Combine(d, "include")));
        return candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, "cuda_runtime_api.h")) && File.Exists(Path.Combine(c, "crt", "host_config.h")));
    }

    static string? RunCompiler(string args)
    {
        foreach (var cxx in new[] { Environment.GetEnvironmentVariable("CXX") ?? "", "g++", "c++", "clang++" })
        {
            if (cxx.Length == 0) continue;
            try
            {
                using var p = Process.Start(new ProcessStartInfo(cxx, args) { RedirectStandardError = true, RedirectStandardOutput = true })!;
                var err = p.StandardError.ReadToEndAsync();
                if (!p.WaitForExit(TimeSpan.FromMinutes(3))) { p.Kill(true); return $"{cxx} timed out"; }
                return p.ExitCode == 0 ? null : $"{cxx} failed: {err.Result.Split('\n').FirstOrDefault(l => l.Contains("error")) ?? err.Result.Split('\n')[0]}";
            }
            catch (System.ComponentModel.Win32Exception) { /* try the next compiler */ }
        }
        return "no C++ compiler (g++, c++, clang++) found";
    }
}
