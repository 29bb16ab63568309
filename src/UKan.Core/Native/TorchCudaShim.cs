using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace UKan.Native;

/// <summary>
/// The few libtorch C++ facilities TorchSharp does not expose, reached through a small C shim compiled on first
/// need against the headers of the libtorch in use (with the machine's C++ compiler) and cached:
/// the CUDA caching allocator's statistics (what torch.cuda.max_memory_allocated reports), the current CUDA stream
/// (so that our own kernels run in order with torch's), side streams, CUDA graph capture and replay
/// (at::cuda::CUDAGraph) to remove per-kernel launch overhead, and the multi-tensor copy (torch._foreach_copy_).
/// Where the shim cannot be built (no compiler, no headers), <see cref="Available"/> is false, <see cref="Problem"/>
/// says why, and callers fall back. The source is Native/Shim/torch_shim.cpp (embedded); the compiled library is
/// cached per machine under a lock (<see cref="CompileCache"/>), so processes that start together run g++ once.
/// </summary>
public static class TorchCudaShim
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate long StatFn(int device);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate void DeviceFn(int device);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int DeviceStatusFn(int device);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr PtrFn(int device);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr CreateFn();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int GraphFn(IntPtr graph);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate void DestroyFn(IntPtr graph);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr ErrorFn();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate void FlagFn(int on);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int PairsFn(IntPtr[] destinations, IntPtr[] sources, int count);

    sealed class Api
    {
        public required StatFn PeakAllocated, PeakReserved, CurrentAllocated;
        public required DeviceFn ResetPeak;
        public required PtrFn CurrentStream;
        public required DeviceStatusFn SideEnter, SideExit;
        public required CreateFn GraphCreate;
        public required DestroyFn GraphDestroy;
        public required GraphFn CaptureBegin, CaptureEnd, Replay;
        public required ErrorFn LastError;
        public required FlagFn CudnnBenchmark, CudnnBenchmarkLimit, Deterministic;
        public required DeviceStatusFn AutocastBf16;
        public required PairsFn ForeachCopy;
    }

    static readonly Lazy<Api?> api = new(Load);
    public static string? Problem { get; private set; }
    /// <summary>Where the compiled shim is, and whether this process compiled it or found it cached; null until loaded.</summary>
    public static CacheOutcome? Cache { get; private set; }
    public static bool Available => api.Value is not null;
    static Api A => api.Value ?? throw new InvalidOperationException($"the libtorch CUDA shim is unavailable: {Problem}");

    public static long PeakAllocated(int device = 0) => A.PeakAllocated(device);
    public static long PeakReserved(int device = 0) => A.PeakReserved(device);
    public static long CurrentAllocated(int device = 0) => A.CurrentAllocated(device);
    public static void ResetPeak(int device = 0) => A.ResetPeak(device);
    /// <summary>The cudaStream_t torch launches on from this thread.</summary>
    public static IntPtr CurrentStream(int device = 0) => A.CurrentStream(device);
    public static void EnterSideStream(int device = 0) => Check(A.SideEnter(device));
    public static void ExitSideStream(int device = 0) => Check(A.SideExit(device));
    /// <summary>
    /// cudnn.benchmark: let cuDNN time its convolution algorithms for each new shape and keep the fastest (the
    /// official train.py turns it on). TorchSharp has no switch for it.
    /// </summary>
    public static void SetCudnnBenchmark(bool on) => A.CudnnBenchmark(on ? 1 : 0);
    /// <summary>
    /// torch.backends.cudnn.benchmark_limit (PyTorch's default 10): how many of cuDNN's heuristic candidates autotuning
    /// times for each new shape; 0 times them all. Fewer candidates make the first steps of a run cheaper.
    /// </summary>
    public static void SetCudnnBenchmarkLimit(int candidates) => A.CudnnBenchmarkLimit(candidates);
    /// <summary>cuDNN's and PyTorch's deterministic algorithms (and deterministic cuBLAS workspaces) on or off.</summary>
    public static void SetDeterministic(bool on) => A.Deterministic(on ? 1 : 0);
    /// <summary>
    /// Turns CUDA autocast to bfloat16 on or off for the calling thread (TorchSharp has no autocast): convolutions and
    /// matrix products run in bf16 while weights, optimizer state and the ops autocast keeps in fp32 (norms, losses,
    /// reductions) stay fp32. Backward passes run on autograd's threads, outside autocast, as in PyTorch.
    /// </summary>
    public static void SetAutocastBf16(bool on)
    {
        Check(A.AutocastBf16(on ? 1 : 0));
        UKan.Layers.Autocast.Bf16 = on;
    }
    /// <summary>
    /// destinations[i].copy_(sources[i]) for every i in PyTorch's multi-tensor kernel (torch._foreach_copy_), a few
    /// launches in all instead of one per pair. TorchSharp tensor handles, pairwise of equal sizes and strides (the
    /// kernel's fast path; other pairs would be copied one by one).
    /// </summary>
    public static void ForeachCopy(IntPtr[] destinations, IntPtr[] sources)
    {
        if (destinations.Length != sources.Length) throw new ArgumentException("as many sources as destinations are needed");
        Check(A.ForeachCopy(destinations, sources, destinations.Length));
    }
    internal static IntPtr GraphCreate() => A.GraphCreate();
    internal static void GraphDestroy(IntPtr g) => A.GraphDestroy(g);
    internal static void CaptureBegin(IntPtr g) => Check(A.CaptureBegin(g));
    internal static void CaptureEnd(IntPtr g) => Check(A.CaptureEnd(g));
    internal static void Replay(IntPtr g) => Check(A.Replay(g));

    static void Check(int status)
    {
        if (status != 0) throw new InvalidOperationException($"libtorch: {Marshal.PtrToStringUTF8(A.LastError())?.Split('\n')[0]}");
    }

    static Api? Load()
    {
        try
        {
            var (h, outcome) = Compile("torch_shim.cpp", "libukan_torchshim.so");
            T F<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(h, name));
            var result = new Api
            {
                PeakAllocated = F<StatFn>("ukan_peak_allocated"), PeakReserved = F<StatFn>("ukan_peak_reserved"),
                CurrentAllocated = F<StatFn>("ukan_current_allocated"), ResetPeak = F<DeviceFn>("ukan_reset_peak"),
                CurrentStream = F<PtrFn>("ukan_current_stream"), SideEnter = F<DeviceStatusFn>("ukan_side_stream_enter"),
                SideExit = F<DeviceStatusFn>("ukan_side_stream_exit"), GraphCreate = F<CreateFn>("ukan_graph_create"),
                GraphDestroy = F<DestroyFn>("ukan_graph_destroy"), CaptureBegin = F<GraphFn>("ukan_graph_capture_begin"),
                CaptureEnd = F<GraphFn>("ukan_graph_capture_end"), Replay = F<GraphFn>("ukan_graph_replay"),
                LastError = F<ErrorFn>("ukan_last_error"),
                CudnnBenchmark = F<FlagFn>("ukan_set_cudnn_benchmark"),
                CudnnBenchmarkLimit = F<FlagFn>("ukan_set_cudnn_benchmark_limit"),
                Deterministic = F<FlagFn>("ukan_set_deterministic"),
                AutocastBf16 = F<DeviceStatusFn>("ukan_set_autocast_bf16"),
                ForeachCopy = F<PairsFn>("ukan_foreach_copy"),
            };
            Cache = outcome;
            return result;
        }
        catch (Exception e) { Problem = e.Message.Split('\n')[0]; return null; }
    }

    /// <summary>
    /// Compiles the embedded C++ source <paramref name="sourceFile"/> (Native/Shim) into <paramref name="library"/>
    /// against the libtorch in use, once per machine (<see cref="CompileCache"/>), and loads it. Throws with one line
    /// saying why where it cannot (no CUDA libtorch, no headers, no compiler, a compile error).
    /// </summary>
    internal static (IntPtr Handle, CacheOutcome Outcome) Compile(string sourceFile, string library)
    {
        var rt = TorchRuntime.Current;
        if (!rt.LibTorch.HasCuda) throw new InvalidOperationException("libtorch has no CUDA");
        var lib = rt.LibTorch.Path;
        var include = Path.GetFullPath(Path.Combine(lib, "..", "include"));
        if (!Directory.Exists(Path.Combine(include, "c10"))) throw new InvalidOperationException($"no libtorch headers at {include}");
        var cudaInclude = FindCudaInclude(lib)
            ?? throw new InvalidOperationException("no complete CUDA headers (cuda_runtime_api.h with crt/host_config.h); set CUDA_HOME");
        // The shim must use libtorch's C++ ABI; libraries built with the new ABI carry std::__cxx11 symbols.
        var abi = File.ReadAllText(Path.Combine(lib, "libc10.so"), Encoding.Latin1).Contains("St7__cxx11") ? 1 : 0;
        var source = NativeSources.Read(sourceFile);
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(lib + source + (rt.LibTorch.Version ?? "") + abi)))[..16];
        var dir = Path.Combine(TorchRuntime.CacheFolder(), "torch-shim", key);
        var so = Path.Combine(dir, library);
        // Compiled once per machine: concurrent first runs wait for one compile (CompileCache) instead of each
        // running g++ for a minute.
        var clock = Stopwatch.StartNew();
        var outcome = CompileCache.GetOrBuild(so, tmp =>
        {
            var src = Path.Combine(dir, Path.ChangeExtension(library, ".cpp"));
            AtomicFile.WriteAllText(src, source);
            var args = $"-O2 -shared -fPIC -std=c++17 -D_GLIBCXX_USE_CXX11_ABI={abi} -I\"{include}\" -I\"{include}/torch/csrc/api/include\" -I\"{cudaInclude}\" \"{src}\" -L\"{lib}\" -lc10_cuda -lc10 -ltorch_cuda -ltorch_cpu -o \"{tmp}\"";
            if (RunCompiler(args) is { } error) throw new InvalidOperationException(error);
        });
        var handle = NativeLibrary.Load(so);
        return (handle, outcome with { Elapsed = clock.Elapsed });   // compile (or wait) and load
    }

    /// <summary>CUDA headers: a toolkit's are complete; pip wheels carry only some (not always crt/host_config.h).</summary>
    public static string? FindCudaInclude(string torchLib)
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("CUDA_HOME") is { Length: > 0 } home) candidates.Add(Path.Combine(home, "include"));
        candidates.Add("/usr/local/cuda/include");
        var nvidia = Path.GetFullPath(Path.Combine(torchLib, "..", "..", "nvidia"));
        if (Directory.Exists(nvidia)) candidates.AddRange(Directory.GetDirectories(nvidia).Select(d => Path.Combine(d, "include")));
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
                if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(true); return $"{cxx} timed out"; }
                return p.ExitCode == 0 ? null : $"{cxx} failed: {err.Result.Split('\n').FirstOrDefault(l => l.Contains("error")) ?? err.Result.Split('\n')[0]}";
            }
            catch (System.ComponentModel.Win32Exception) { /* try the next compiler */ }
        }
        return "no C++ compiler (g++, c++, clang++) found";
    }
}
