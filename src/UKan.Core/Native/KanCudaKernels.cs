using System.Runtime.InteropServices;
using System.Text;
using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>
/// Fused CUDA kernels for KANLinear's features and their backward pass, compiled at run time with NVRTC from the
/// installed CUDA (nothing needs a CUDA compiler at build time) and launched through the driver API on the device
/// pointers of TorchSharp tensors, on torch's current stream. One launch each replaces the ~10 element-wise kernels
/// (forward) and ~20 (backward) of the torch formulation; the math is that of <see cref="KanFeatures.Torch"/>.
/// The CUBIN is cached on disk (<see cref="CompileCache"/>, keyed by source, architecture and NVRTC version), so NVRTC
/// runs once per machine rather than in every process; each device gets its own module (<see cref="TryLoad"/>).
/// </summary>
public sealed class KanCudaKernels : IFusedCudaKernels
{
    /// <summary>
    /// The kernels' CUDA source: Native/Kernels/kan_features.cu then shared_activation_psi.cu (embedded), one NVRTC
    /// program (the ψ kernels use the cardinal B-spline helpers of the first file).
    /// </summary>
    public static string Source => source.Value;
    static readonly Lazy<string> source = new(() => NativeSources.Read("kan_features.cu") + "\n" + NativeSources.Read("shared_activation_psi.cu"));

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
    [DllImport("libcuda.so.1")] static extern int cuLaunchKernel(IntPtr f, uint gx, uint gy, uint gz, uint bx, uint by, uint bz,
        uint sharedMem, IntPtr stream, IntPtr[] kernelParams, IntPtr extra);

    delegate int NvrtcCreate(out IntPtr prog, string src, string name, int numHeaders, IntPtr headers, IntPtr includeNames);
    delegate int NvrtcCompile(IntPtr prog, int numOptions, string[] options);
    delegate int NvrtcSize(IntPtr prog, out nuint size);
    delegate int NvrtcGet(IntPtr prog, byte[] buffer);
    delegate int NvrtcDestroy(ref IntPtr prog);
    delegate int NvrtcVersion(out int major, out int minor);

    readonly IntPtr features, backward, psiForward, psiBackward, context;
    readonly int device;

    public string Architecture { get; }
    public int Device => device;
    /// <summary>The cached CUBIN, and whether this process compiled it; Elapsed covers compiling (or reading) and loading.</summary>
    public CacheOutcome? Cache { get; }

    /// <summary>The most bases the ψ kernels take (the size of their per-thread accumulators, less w_b and w_s).</summary>
    public const int MaxPsiBases = 16;
    int IPsiKernels.MaxPsiBases => MaxPsiBases;

    KanCudaKernels(int device, IntPtr context, IntPtr[] functions, string arch, CacheOutcome? cache)
    {
        (this.device, this.context, Architecture, Cache) = (device, context, arch, cache);
        (features, backward, psiForward, psiBackward) = (functions[0], functions[1], functions[2], functions[3]);
    }

    /// <summary>
    /// Compiles (or takes from the cache) and loads the kernels into the primary context of device
    /// <paramref name="deviceIndex"/>, or returns null with the reason (no NVRTC, no driver, compile error).
    /// </summary>
    public static KanCudaKernels? TryLoad(int deviceIndex, out string? problem)
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
            Check(cuDevicePrimaryCtxRetain(out var ctx, dev), "cuDevicePrimaryCtxRetain");
            // A module is loaded into the current context: make this device's current for the load only, so that the
            // calling thread's current device (torch's) is left as it was.
            Check(cuCtxPushCurrent(ctx), "cuCtxPushCurrent");
            pushed = true;
            var arch = $"sm_{major}{minor}";
            var (module, cache) = LoadModule(arch);
            var functions = new[] { "kan_features", "kan_features_backward", "psi_forward", "psi_backward" }.Select(name =>
            {
                Check(cuModuleGetFunction(out var f, module, name), $"cuModuleGetFunction {name}");
                return f;
            }).ToArray();
            return new KanCudaKernels(deviceIndex, ctx, functions, arch, cache is null ? null : cache with { Elapsed = clock.Elapsed });
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
    static (IntPtr Module, CacheOutcome? Cache) LoadModule(string arch)
    {
        string entry;
        try
        {
            var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(
                Encoding.UTF8.GetBytes($"{Source}\n{arch}\n{NvrtcVersionString()}\n{string.Join(' ', Options(arch))}")))[..16];
            entry = Path.Combine(TorchRuntime.CacheFolder(), "cuda-kernels", key, $"kan_kernels_{arch}.cubin");
        }
        catch (Exception e) when (e is UserError or IOException or UnauthorizedAccessException)
        {
            Check(cuModuleLoadData(out var direct, Compile(arch)), "cuModuleLoadData");
            return (direct, null);
        }
        for (int attempt = 0; ; attempt++)
        {
            CacheOutcome outcome;
            try { outcome = CompileCache.GetOrBuild(entry, tmp => File.WriteAllBytes(tmp, Compile(arch))); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Check(cuModuleLoadData(out var direct, Compile(arch)), "cuModuleLoadData");
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

    static byte[] Compile(string arch)
    {
        var lib = LoadNvrtc();
        T F<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(lib, name));
        Check(F<NvrtcCreate>("nvrtcCreateProgram")(out var prog, Source, "kan_features.cu", 0, IntPtr.Zero, IntPtr.Zero), "nvrtcCreateProgram");
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

    static IntPtr Pointer(Tensor? t) => TensorPointer.Of(t);

    void Launch(IntPtr function, long n, params object[] args) => LaunchOn(function, (uint)((n + Block - 1) / Block), Block, 0, args);

    const int Block = 256;

    /// <summary>Static shared memory a block may take without opting in (48 KiB on every architecture since sm_20).</summary>
    const int SharedLimit = 48 * 1024;

    void LaunchOn(IntPtr function, uint grid, int block, int sharedBytes, params object[] args)
    {
        // The calling thread (e.g. autograd's device thread) may not have this device's context current yet, or may
        // have another device's current (tensors on cuda:1 while the thread's device is 0): the launch needs ours.
        bool pushed = false;
        if (cuCtxGetCurrent(out var current) != 0 || current == IntPtr.Zero) cuCtxSetCurrent(context);
        else if (current != context) { Check(cuCtxPushCurrent(context), "cuCtxPushCurrent"); pushed = true; }
        var handles = new List<GCHandle>();
        try
        {
            var parameters = args.Select(a =>
            {
                var h = GCHandle.Alloc(a switch { IntPtr p => (object)p, long l => l, float f => f, int i => i, _ => throw new ArgumentException() }, GCHandleType.Pinned);
                handles.Add(h);
                return h.AddrOfPinnedObject();
            }).ToArray();
            var stream = TorchCudaShim.Available ? TorchCudaShim.CurrentStream(device) : IntPtr.Zero;
            Check(cuLaunchKernel(function, grid, 1, 1, (uint)block, 1, 1, (uint)sharedBytes, stream, parameters, IntPtr.Zero), "cuLaunchKernel");
        }
        finally
        {
            foreach (var h in handles) h.Free();
            if (pushed) cuCtxPopCurrent(out _);
        }
    }

    public Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots)
    {
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var feat = empty(x.shape[0], x.shape[1] * (knots.BasisCount + 1), dtype: float32, device: x.device);
        long n = xc.numel();
        // One thread per feature value (n·(1+K) of them), see the kernel.
        if (n > 0) Launch(features, n * (knots.BasisCount + 1), Pointer(xc), Pointer(feat), n, (float)knots.First, (float)(1.0 / knots.Step), knots.BasisCount);
        return feat.MoveToOuterDisposeScope();
    }

    public Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots)
    {
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var gf = gradFeatures.contiguous();
        var gx = empty_like(xc);
        long n = xc.numel();
        if (n > 0)
        {
            // Each block stages its inputs' 1+K gradients in shared memory: as many threads (a multiple of a warp, at
            // most 256) as keep that tile within the shared-memory limit.
            int width = knots.BasisCount + 1;
            int block = Math.Max(32, Math.Min(Block, SharedLimit / (width * sizeof(float)) / 32 * 32));
            if (block * width * sizeof(float) > SharedLimit) throw new ArgumentException($"KAN features backward: {knots.BasisCount} bases do not fit a block's shared memory");
            LaunchOn(backward, (uint)((n + block - 1) / block), block, block * width * sizeof(float),
                Pointer(xc), Pointer(gf), Pointer(gx), n, (float)knots.First, (float)(1.0 / knots.Step), knots.BasisCount);
        }
        return gx.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ψ(u) = w_b·SiLU(u) + w_s·Σ_j c_j B_j(u) for uniform cubic knots, in one pass over u: no (…, K) basis tensor.
    /// <paramref name="u"/> must be dense (<see cref="TensorLayout.DenseLayout"/>); the result has its strides.
    /// </summary>
    public Tensor PsiForward(Tensor u, Tensor coef, Tensor? baseScale, Tensor? splineScale, BSplineBasis.UniformKnots knots)
    {
        CheckPsi(u, coef, knots);
        var output = empty_strided(u.shape, u.stride(), dtype: float32, device: u.device);
        long n = u.numel();
        if (n > 0)
            Launch(psiForward, n, Pointer(u), Pointer(output), n, Pointer(coef), Pointer(baseScale), Pointer(splineScale),
                (float)knots.First, (float)(1.0 / knots.Step), knots.BasisCount);
        return output;
    }

    /// <summary>
    /// The gradients of ψ from dL/dψ = <paramref name="grad"/> (same strides as u): dL/du (null unless
    /// <paramref name="inputGrad"/>; with the spline slope only when <paramref name="exact"/>), and one tensor of K + 2
    /// sums: dL/dc (K), dL/dw_b, dL/dw_s.
    /// </summary>
    public (Tensor? GradU, Tensor Sums) PsiBackward(Tensor u, Tensor grad, Tensor coef, Tensor? baseScale, Tensor? splineScale,
        BSplineBasis.UniformKnots knots, bool exact, bool inputGrad)
    {
        CheckPsi(u, coef, knots);
        if (!grad.stride().SequenceEqual(u.stride())) throw new ArgumentException("ψ backward: the gradient must have the input's strides");
        var gradU = inputGrad ? empty_strided(u.shape, u.stride(), dtype: float32, device: u.device) : null;
        var sums = zeros(knots.BasisCount + 2, dtype: float32, device: u.device);
        long n = u.numel();
        // A grid-stride loop over at most 1,024 blocks: partial sums stay per thread, one atomicAdd per block and value.
        uint grid = (uint)Math.Clamp((n + Block - 1) / Block, 1, 1024);
        if (n > 0)
            LaunchOn(psiBackward, grid, Block, 0, Pointer(u), Pointer(grad), Pointer(gradU), n, Pointer(coef), Pointer(baseScale), Pointer(splineScale),
                (float)knots.First, (float)(1.0 / knots.Step), knots.BasisCount, exact ? 1 : 0, Pointer(sums));
        return (gradU, sums);
    }

    static void CheckPsi(Tensor u, Tensor coef, BSplineBasis.UniformKnots knots)
    {
        if (u.dtype != float32 || coef.dtype != float32 || !coef.is_contiguous() || knots.BasisCount > MaxPsiBases || !TensorLayout.IsDense(u))
            throw new ArgumentException("ψ kernels: float32, at most 16 bases, a dense input");
    }
}
