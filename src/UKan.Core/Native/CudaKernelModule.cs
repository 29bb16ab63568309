using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>
/// CUDA C compiled at run time with NVRTC from the installed CUDA (nothing needs a CUDA compiler at build time), loaded
/// through the driver API into a device's primary context, and launched on the device pointers of TorchSharp tensors
/// on torch's current stream. The CUBIN is cached on disk (<see cref="CompileCache"/>, keyed by source, architecture
/// and NVRTC version), so NVRTC runs once per machine rather than in every process. The kernel families
/// (<see cref="KanFeatureKernels"/>, <see cref="PsiKernels"/>) take their functions from a loaded module.
/// </summary>
public sealed class CudaKernelModule
{
    [DllImport("libcuda.so.1")] static extern int cuInit(uint flags);
    [DllImport("libcuda.so.1")] static extern int cuDeviceGet(out int device, int ordinal);
    [DllImport("libcuda.so.1")] static extern int cuDeviceGetAttribute(out int value, int attribute, int device);
    [DllImport("libcuda.so.1")] static extern int cuDevicePrimaryCtxRetain(out IntPtr ctx, int device);
    [DllImport("libcuda.so.1")] static extern int cuCtxGetCurrent(out IntPtr ctx);
    [DllImport("libcuda.so.1")] static extern int cuCtxSetCurrent(IntPtr ctx);
    [DllImport("libcuda.so.1", EntryPoint = "cuCtxPushCurrent_v2")] static extern int cuCtxPushCurrent(IntPtr ctx);
    [DllImport("libcuda.so.1", EntryPoint = "cuCtxPopCurrent_v2")] static extern int cuCtxPopCurrent(out IntPtr ctx);
    [DllImport("libcuda.so.1")] static extern int cuModuleLoadData(out IntPtr module, byte[] image);
    [DllImport("libcuda.so.1")] static extern int cuModuleGetFunction(out IntPtr function, IntPtr module, string name);
    [DllImport("libcuda.so.1")] static extern int cuFuncSetAttribute(IntPtr function, int attribute, int value);
    [DllImport("libcuda.so.1")]
    static extern int cuOccupancyMaxActiveBlocksPerMultiprocessor(out int blocks, IntPtr function, int blockSize, nuint dynamicShared);
    [DllImport("libcuda.so.1")]
    static extern int cuLaunchKernel(IntPtr f, uint gx, uint gy, uint gz, uint bx, uint by, uint bz,
        uint sharedMem, IntPtr stream, IntPtr[] kernelParams, IntPtr extra);

    [DllImport("libcuda.so.1")] static extern int cuEventCreate(out IntPtr e, uint flags);
    [DllImport("libcuda.so.1")] static extern int cuEventRecord(IntPtr e, IntPtr stream);
    [DllImport("libcuda.so.1")] static extern int cuEventSynchronize(IntPtr e);
    [DllImport("libcuda.so.1")] static extern int cuEventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);
    [DllImport("libcuda.so.1", EntryPoint = "cuEventDestroy_v2")] static extern int cuEventDestroy(IntPtr e);

    delegate int NvrtcCreate(out IntPtr prog, string src, string name, int numHeaders, IntPtr headers, IntPtr includeNames);
    delegate int NvrtcCompile(IntPtr prog, int numOptions, string[] options);
    delegate int NvrtcSize(IntPtr prog, out nuint size);
    delegate int NvrtcGet(IntPtr prog, byte[] buffer);
    delegate int NvrtcDestroy(ref IntPtr prog);
    delegate int NvrtcVersion(out int major, out int minor);

    readonly IntPtr context;
    readonly int device;
    readonly IReadOnlyDictionary<string, IntPtr> functions;

    public string Architecture { get; }

    /// <summary>
    /// Whether the device's tensor cores take TF32 (mma.sync .tf32: sm_80 and later). Before that the program compiles
    /// without those instructions and the kernels that need them (small_conv.cu, kan_product_tf32x3.cu) are not taken.
    /// </summary>
    public bool Tf32TensorCores => MajorOf(Architecture) >= 8;

    /// <summary>The compute capability's major version of an architecture name: sm_75 → 7, sm_90 → 9, sm_100 → 10.</summary>
    internal static int MajorOf(string arch) =>
        arch.Length >= 5 && arch.StartsWith("sm_", StringComparison.Ordinal) && int.TryParse(arch[3..^1], out var major) ? major
            : throw new ArgumentException($"not an architecture name: {arch}");

    public int Device => device;
    /// <summary>The device's streaming multiprocessors (kernels that size their grid to fill the GPU once).</summary>
    public int Multiprocessors { get; }

    /// <summary>
    /// The most dynamic shared memory one block may opt in to (CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN):
    /// 227 KiB on an H100 or H200, 163 KiB on an A100, 99 KiB on the sm_86 and sm_89 GPUs; kernels that need more are not taken.
    /// </summary>
    public int SharedOptIn { get; }
    /// <summary>The cached CUBIN, and whether this process compiled it; Elapsed covers compiling (or reading) and loading.</summary>
    public CacheOutcome? Cache { get; }

    CudaKernelModule(int device, IntPtr context, IReadOnlyDictionary<string, IntPtr> functions, string arch, CacheOutcome? cache, int multiprocessors, int sharedOptIn)
    {
        (this.device, this.context, this.functions, Architecture, Cache, Multiprocessors, SharedOptIn) = (device, context, functions, arch, cache, multiprocessors, sharedOptIn);
    }

    /// <summary>A kernel loaded with the module (one of the names given to <see cref="TryLoad"/>).</summary>
    public IntPtr Function(string name) => functions[name];

    /// <summary>
    /// Compiles <paramref name="source"/> (or takes its CUBIN from the cache, files named <paramref name="cacheName"/>)
    /// and loads it with <paramref name="functionNames"/> into the primary context of device
    /// <paramref name="deviceIndex"/>, or returns null with the reason (no NVRTC, no driver, compile error).
    /// </summary>
    public static CudaKernelModule? TryLoad(int deviceIndex, string source, string programName, string cacheName,
        IReadOnlyList<string> functionNames, out string? problem)
    {
        problem = null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool pushed = false;
        try
        {
            Check(cuInit(0), "cuInit");
            Check(cuDeviceGet(out var dev, deviceIndex), "cuDeviceGet");
            Check(cuDeviceGetAttribute(out var major, 75, dev), "compute capability");
            Check(cuDeviceGetAttribute(out var minor, 76, dev), "compute capability");
            Check(cuDeviceGetAttribute(out var multiprocessors, 16, dev), "multiprocessor count");
            Check(cuDeviceGetAttribute(out var sharedOptIn, 97, dev), "shared memory per block");
            Check(cuDevicePrimaryCtxRetain(out var ctx, dev), "cuDevicePrimaryCtxRetain");
            // A module is loaded into the current context: make this device's current for the load only, so that the
            // calling thread's current device (torch's) is left as it was.
            Check(cuCtxPushCurrent(ctx), "cuCtxPushCurrent");
            pushed = true;
            var arch = $"sm_{major}{minor}";
            var (module, cache) = LoadModule(arch, source, programName, cacheName);
            var functions = functionNames.ToDictionary(name => name, name =>
            {
                Check(cuModuleGetFunction(out var f, module, name), $"cuModuleGetFunction {name}");
                return f;
            });
            return new CudaKernelModule(deviceIndex, ctx, functions, arch, cache is null ? null : cache with { Elapsed = clock.Elapsed }, multiprocessors, sharedOptIn);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException
                                   or IOException or UnauthorizedAccessException)
        {
            problem = e.Message.Split('\n')[0];
            return null;
        }
        finally
        {
            if (pushed) cuCtxPopCurrent(out _);
        }
    }

    /// <summary>
    /// The module for <paramref name="arch"/> from the CUBIN cache, compiling it once per machine; without a usable
    /// cache folder it is compiled in memory. A cached CUBIN the driver rejects is deleted and compiled again.
    /// </summary>
    static (IntPtr Module, CacheOutcome? Cache) LoadModule(string arch, string source, string programName, string cacheName)
    {
        string entry;
        try
        {
            var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(
                Encoding.UTF8.GetBytes($"{source}\n{arch}\n{NvrtcVersionString()}\n{string.Join(' ', Options(arch))}")))[..16];
            entry = Path.Combine(TorchRuntime.CacheFolder(), "cuda-kernels", key, $"{cacheName}_{arch}.cubin");
        }
        catch (Exception e) when (e is UserError or IOException or UnauthorizedAccessException)
        {
            Check(cuModuleLoadData(out var direct, Compile(arch, source, programName)), "cuModuleLoadData");
            return (direct, null);
        }
        for (int attempt = 0; ; attempt++)
        {
            CacheOutcome outcome;
            try { outcome = CompileCache.GetOrBuild(entry, tmp => File.WriteAllBytes(tmp, Compile(arch, source, programName))); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Check(cuModuleLoadData(out var direct, Compile(arch, source, programName)), "cuModuleLoadData");
                return (direct, null);
            }
            int status = cuModuleLoadData(out var module, File.ReadAllBytes(entry));
            if (status == 0) return (module, outcome);
            if (attempt > 0 || outcome.Built) Check(status, "cuModuleLoadData");
            CompileCache.Invalidate(entry);   // e.g. written by a different driver's NVRTC under the same key: rebuild once
        }
    }

    static string[] Options(string arch) => [$"--gpu-architecture={arch}", "--std=c++17"];

    /// <summary>NVRTC's version, part of the cache key: a CUBIN from another NVRTC may differ.</summary>
    static string NvrtcVersionString()
    {
        var lib = LoadNvrtc();
        Check(Marshal.GetDelegateForFunctionPointer<NvrtcVersion>(NativeLibrary.GetExport(lib, "nvrtcVersion"))(out var major, out var minor), "nvrtcVersion");
        return $"{major}.{minor}";
    }

    static byte[] Compile(string arch, string source, string programName)
    {
        var lib = LoadNvrtc();
        T F<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(lib, name));
        Check(F<NvrtcCreate>("nvrtcCreateProgram")(out var prog, source, programName, 0, IntPtr.Zero, IntPtr.Zero), "nvrtcCreateProgram");
        try
        {
            var options = Options(arch);
            int status = F<NvrtcCompile>("nvrtcCompileProgram")(prog, options.Length, options);
            if (status != 0)
            {
                F<NvrtcSize>("nvrtcGetProgramLogSize")(prog, out var logSize);
                var log = new byte[(int)logSize];
                F<NvrtcGet>("nvrtcGetProgramLog")(prog, log);
                throw new InvalidOperationException($"NVRTC: {Encoding.ASCII.GetString(log).Trim('\0').Split('\n')[0]}");
            }
            Check(F<NvrtcSize>("nvrtcGetCUBINSize")(prog, out var size), "nvrtcGetCUBINSize");
            var cubin = new byte[(int)size];
            Check(F<NvrtcGet>("nvrtcGetCUBIN")(prog, cubin), "nvrtcGetCUBIN");
            return cubin;
        }
        finally { F<NvrtcDestroy>("nvrtcDestroyProgram")(ref prog); }
    }

    /// <summary>NVRTC from the process (libtorch_cuda links it), the PyTorch wheel's nvidia folder, or a CUDA toolkit.</summary>
    static IntPtr LoadNvrtc()
    {
        foreach (var name in new[] { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so" })
            if (NativeLibrary.TryLoad(name, out var h)) return h;
        var torchLib = TorchRuntime.Current.LibTorch.Path;
        var roots = new List<string> { "/usr/local/cuda/lib64" };
        var nvidia = Path.GetFullPath(Path.Combine(torchLib, "..", "..", "nvidia"));
        if (Directory.Exists(nvidia)) roots.AddRange(Directory.GetDirectories(nvidia).Select(d => Path.Combine(d, "lib")));
        foreach (var root in roots.Where(Directory.Exists))
            foreach (var file in Directory.GetFiles(root, "libnvrtc.so*").Where(f => !f.Contains("builtins")).Order())
                if (NativeLibrary.TryLoad(file, out var h)) return h;
        throw new InvalidOperationException("NVRTC (libnvrtc.so) not found");
    }

    static void Check(int status, string what)
    {
        if (status != 0) throw new InvalidOperationException($"{what} failed (CUDA error {status})");
    }

    /// <summary>The device address of <paramref name="t"/>'s first float32 element; zero for null (an absent optional argument).</summary>
    public static IntPtr Pointer(Tensor? t) => TensorPointer.Of(t);

    /// <summary>Launches <paramref name="function"/> with one thread per element of <paramref name="n"/>, in blocks of <see cref="Block"/>.</summary>
    public void Launch(IntPtr function, long n, params object[] args) => LaunchOn(function, (uint)((n + Block - 1) / Block), Block, 0, args);

    public const int Block = 256;

    /// <summary>
    /// The grid of a kernel that runs a thread per value over rows (relu(×2 upsampling), relu(2 × 2 max-pooling)):
    /// grid.x = <paramref name="rows"/>, grid.y × <see cref="Block"/> ≥ <paramref name="perRow"/>; throws past CUDA's limits.
    /// </summary>
    public static (uint X, uint Y) RowGrid(long rows, long perRow, string family)
    {
        long chunks = (perRow + Block - 1) / Block;
        if (rows > int.MaxValue || chunks > 65535)
            throw new ArgumentException($"{family} kernels: {rows} rows of {perRow} values exceed the launch grid");
        return ((uint)rows, (uint)chunks);
    }

    /// <summary>
    /// Launches a kernel on a <see cref="RowGrid"/> over planes of H × W pixels of <paramref name="perPixel"/> values: it
    /// takes its pointers, then H, W and the values per pixel. Nothing to do for an empty grid.
    /// </summary>
    public void LaunchOnRows(IntPtr function, (uint X, uint Y) grid, long h, long w, long perPixel, params IntPtr[] pointers)
    {
        if (grid.X == 0 || grid.Y == 0) return;
        object[] args = [.. pointers.Cast<object>(), (int)h, (int)w, (int)perPixel];
        LaunchOn(function, grid, (Block, 1), 0, args);
    }

    /// <summary>Static shared memory a block may take without opting in (48 KiB on every architecture since sm_20).</summary>
    public const int SharedLimit = 48 * 1024;

    readonly System.Collections.Concurrent.ConcurrentDictionary<(IntPtr Function, int Bytes), bool> sharedAllowed = new();

    /// <summary>
    /// Lets <paramref name="function"/>'s blocks take <paramref name="bytes"/> of dynamic shared memory, past the
    /// <see cref="SharedLimit"/> a kernel gets without opting in (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES; once per
    /// function and size). Needed before such a launch and before <see cref="ResidentBlocks"/> is asked about it.
    /// </summary>
    public void AllowSharedBytes(IntPtr function, int bytes) => sharedAllowed.GetOrAdd((function, bytes), key => InContext(() =>
    {
        if (key.Bytes > SharedLimit) Check(cuFuncSetAttribute(key.Function, 8, key.Bytes), "cuFuncSetAttribute (dynamic shared memory)");
        return true;
    }));

    /// <summary>
    /// Launches <paramref name="function"/> on torch's current stream of this module's device, in this device's context.
    /// Arguments: pointers (IntPtr), long, int, float, double, and byte[] for a struct passed by value (its bytes).
    /// </summary>
    public void LaunchOn(IntPtr function, uint grid, int block, int sharedBytes, params object[] args) =>
        LaunchOn(function, (grid, 1), (block, 1), sharedBytes, args);

    /// <summary><see cref="LaunchOn(IntPtr, uint, int, int, object[])"/> with a two-dimensional grid and block.</summary>
    public void LaunchOn(IntPtr function, (uint X, uint Y) grid, (int X, int Y) block, int sharedBytes, params object[] args) => InContext(() =>
    {
        var handles = new List<GCHandle>();
        try
        {
            var parameters = args.Select(a =>
            {
                var h = GCHandle.Alloc(a switch { IntPtr p => (object)p, long l => l, float f => f, double d => d, int i => i, byte[] b => b, _ => throw new ArgumentException() },
                    GCHandleType.Pinned);
                handles.Add(h);
                return h.AddrOfPinnedObject();
            }).ToArray();
            var stream = CurrentStream();
            Check(cuLaunchKernel(function, grid.X, grid.Y, 1, (uint)block.X, (uint)block.Y, 1, (uint)sharedBytes, stream, parameters, IntPtr.Zero), "cuLaunchKernel");
        }
        finally
        {
            foreach (var h in handles) h.Free();
        }
        return 0;
    });

    /// <summary>Torch's current stream on this module's device (the legacy default stream without the libtorch shim).</summary>
    IntPtr CurrentStream() => TorchCudaShim.Available ? TorchCudaShim.CurrentStream(device) : IntPtr.Zero;

    /// <summary>
    /// Launches <paramref name="wait"/> (a one-thread kernel taking a duration in nanoseconds) on torch's current stream,
    /// then runs <paramref name="work"/> between two events on that stream: the GPU milliseconds between the events, and
    /// the CPU milliseconds that queueing the work took (it must be shorter than the wait for the first to be the
    /// work's back-to-back time; <see cref="GpuTimer"/>).
    /// </summary>
    public (double Gpu, double Queued) TimeQueued(IntPtr wait, long nanoseconds, Action work)
    {
        var (start, end) = InContext(() =>
        {
            Check(cuEventCreate(out var a, 0), "cuEventCreate");
            Check(cuEventCreate(out var b, 0), "cuEventCreate");
            return (a, b);
        });
        try
        {
            var stream = CurrentStream();
            LaunchOn(wait, 1, 1, 0, nanoseconds);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            InContext(() => { Check(cuEventRecord(start, stream), "cuEventRecord"); return 0; });
            work();
            InContext(() => { Check(cuEventRecord(end, stream), "cuEventRecord"); return 0; });
            double queued = clock.Elapsed.TotalMilliseconds;
            return InContext(() =>
            {
                Check(cuEventSynchronize(end), "cuEventSynchronize");
                Check(cuEventElapsedTime(out var ms, start, end), "cuEventElapsedTime");
                return ((double)ms, queued);
            });
        }
        finally
        {
            InContext(() => { cuEventDestroy(start); cuEventDestroy(end); return 0; });
        }
    }

    readonly System.Collections.Concurrent.ConcurrentDictionary<(IntPtr Function, int Block, int Shared), int> resident = new();

    /// <summary>Set to <c>off</c> to size grids without <see cref="ResidentBlocks"/>'s cap (a comparison): it then answers int.MaxValue.</summary>
    public const string ResidentGridsVariable = "UKAN_RESIDENT_GRIDS";

    /// <summary>
    /// The most blocks of <paramref name="block"/> threads of <paramref name="function"/> that one multiprocessor holds at
    /// once, as its registers and shared memory allow (the driver's occupancy query, asked once per kernel and block
    /// size). Kernels whose blocks loop over work use it to size their grid to one wave: a grid a few blocks larger than
    /// what fits runs a second, nearly empty wave, as long as the first (the 16 → 16 weight gradient on an H200: 683
    /// blocks where 660 fit).
    /// </summary>
    public int ResidentBlocks(IntPtr function, int block, int dynamicSharedBytes = 0) =>
        EnvironmentSwitch.IsOffIn(ResidentGridsVariable) ? int.MaxValue
            : resident.GetOrAdd((function, block, dynamicSharedBytes), key => InContext(() =>
        {
            Check(cuOccupancyMaxActiveBlocksPerMultiprocessor(out var blocks, key.Function, key.Block, (nuint)key.Shared),
                "cuOccupancyMaxActiveBlocksPerMultiprocessor");
            return Math.Max(1, blocks);
        }));

    /// <summary>
    /// <paramref name="body"/> with this device's context current: the calling thread (e.g. autograd's device thread)
    /// may not have it current yet, or may have another device's (tensors on cuda:1 while the thread's device is 0).
    /// </summary>
    T InContext<T>(Func<T> body)
    {
        bool pushed = false;
        if (cuCtxGetCurrent(out var current) != 0 || current == IntPtr.Zero) cuCtxSetCurrent(context);
        else if (current != context) { Check(cuCtxPushCurrent(context), "cuCtxPushCurrent"); pushed = true; }
        try { return body(); }
        finally { if (pushed) cuCtxPopCurrent(out _); }
    }
}
