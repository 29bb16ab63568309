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
/// </summary>
public sealed class KanCudaKernels : IKanFeatureKernels
{
    const string Source = """
        // The cardinal cubic B-spline centred at 0, (relu(2-s)^3 - 4 relu(1-s)^3) / 6 with s = |d|, and its slope in x
        // (d = (x - t0)/h - j - 2 for basis j of uniform knots t0 + i*h).
        __device__ __forceinline__ float cardinal(float d) {
            float s = fabsf(d), a = fmaxf(2.0f - s, 0.0f), b = fmaxf(1.0f - s, 0.0f);
            return (a * a * a - 4.0f * b * b * b) * (1.0f / 6.0f);
        }
        __device__ __forceinline__ float cardinal_slope(float d, float inv_h) {
            float s = fabsf(d), a = fmaxf(2.0f - s, 0.0f), b = fmaxf(1.0f - s, 0.0f);
            float dn = (4.0f * b * b - a * a) * 0.5f * inv_h;
            return d < 0.0f ? -dn : dn;
        }
        // Features [SiLU(x), B_0(x) .. B_{K-1}(x)] per input, interleaved. One thread per OUTPUT value, so that a warp's
        // stores are 32 consecutive floats (one thread per input wrote 1+K floats at a stride of 1+K, which splits
        // every store instruction over many sectors); the 1+K threads of an input read the same x from L1.
        extern "C" __global__ void kan_features(const float* __restrict__ x, float* __restrict__ feat,
                                                long long n, float t0, float inv_h, int K) {
            long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (e >= n * (K + 1)) return;
            long long i = e / (K + 1);
            int j = (int)(e - i * (K + 1));
            float v = x[i];
            feat[e] = j == 0 ? v / (1.0f + expf(-v)) : cardinal((v - t0) * inv_h - (float)(j - 1) - 2.0f);
        }
        // dL/dx = dL/dSiLU * SiLU'(x) + sum_j dL/dB_j * B_j'(x). A block first copies its inputs' 1+K gradients into
        // shared memory with consecutive threads reading consecutive floats (coalesced), then each thread reduces its own
        // row of the tile (stride 1+K words: conflict-free when 1+K is odd, as for the default K = 8).
        extern "C" __global__ void kan_features_backward(const float* __restrict__ x, const float* __restrict__ gfeat,
                                                         float* __restrict__ gx, long long n, float t0, float inv_h, int K) {
            extern __shared__ float tile[];
            int width = K + 1;
            long long first = (long long)blockIdx.x * blockDim.x;
            int count = (int)min((long long)blockDim.x, n - first);
            const float* src = gfeat + first * width;
            for (int e = threadIdx.x; e < count * width; e += blockDim.x) tile[e] = src[e];
            __syncthreads();
            if (threadIdx.x >= count) return;
            long long i = first + threadIdx.x;
            const float* g = tile + threadIdx.x * width;
            float v = x[i];
            float sig = 1.0f / (1.0f + expf(-v));
            float acc = g[0] * sig * (1.0f + v * (1.0f - sig));  // d SiLU / dx
            float u = (v - t0) * inv_h;
            for (int j = 0; j < K; ++j) acc += g[1 + j] * cardinal_slope(u - (float)j - 2.0f, inv_h);
            gx[i] = acc;
        }

        // psi(u) = wb*SiLU(u) + ws*sum_j c_j B_j(u) of ALL U-KAN's shared activation. For a uniform cubic spline at
        // most four bases are non-zero at u: those with j in [m-3, m], m = floor((u - t0)/h); each is the cardinal
        // cubic above at d = t - j - 2. wb, ws may be null (fixed at 1).
        __device__ __forceinline__ int first_tap(float t, int K) {
            float m = floorf(t);
            m = fminf(fmaxf(m, -8.0f), (float)K + 8.0f);       // far outside the grid every tap is invalid anyway
            return (int)m - 3;
        }
        extern "C" __global__ void psi_forward(const float* __restrict__ u, float* __restrict__ out, long long n,
                                               const float* __restrict__ c, const float* wb, const float* ws,
                                               float t0, float inv_h, int K) {
            long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (i >= n) return;
            float v = u[i], t = (v - t0) * inv_h, spline = 0.0f;
            int j0 = first_tap(t, K);
            for (int k = 0; k < 4; ++k) {
                int j = j0 + k;
                if (j >= 0 && j < K) spline += c[j] * cardinal(t - (float)j - 2.0f);
            }
            out[i] = (wb ? *wb : 1.0f) * (v / (1.0f + expf(-v))) + (ws ? *ws : 1.0f) * spline;
        }
        // Backward of psi. gu (may be null): wb*SiLU'(u)*g, plus ws*s'(u)*g when exact. acc[0..K-1] += ws*sum g*B_j(u)
        // (dL/dc), acc[K] += sum g*SiLU(u) (dL/dwb), acc[K+1] += sum g*s(u) (dL/dws): per-thread sums over a grid-stride
        // loop, a warp-shuffle and shared-memory reduction per block, one atomicAdd per block and value. K <= 16.
        extern "C" __global__ void psi_backward(const float* __restrict__ u, const float* __restrict__ g,
                                                float* __restrict__ gu, long long n, const float* __restrict__ c,
                                                const float* wb, const float* ws, float t0, float inv_h, int K,
                                                int exact, float* __restrict__ acc) {
            __shared__ float block_acc[18];
            if (threadIdx.x < K + 2) block_acc[threadIdx.x] = 0.0f;
            __syncthreads();
            float local[18];
            for (int j = 0; j < K + 2; ++j) local[j] = 0.0f;
            float wbv = wb ? *wb : 1.0f, wsv = ws ? *ws : 1.0f;
            for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
                float v = u[i], gi = g[i], t = (v - t0) * inv_h;
                float sig = 1.0f / (1.0f + expf(-v));
                float spline = 0.0f, slope = 0.0f;
                int j0 = first_tap(t, K);
                #pragma unroll
                for (int k = 0; k < 4; ++k) {
                    int j = j0 + k;
                    if (j >= 0 && j < K) {
                        float d = t - (float)j - 2.0f, b = cardinal(d);
                        spline += c[j] * b;
                        if (exact) slope += c[j] * cardinal_slope(d, inv_h);
                        for (int q = 0; q < 16; ++q) if (q == j) local[q] += gi * wsv * b;   // static indices keep local[] in registers
                    }
                }
                local[K] += gi * v * sig;
                local[K + 1] += gi * spline;
                if (gu) gu[i] = gi * (wbv * sig * (1.0f + v * (1.0f - sig)) + (exact ? wsv * slope : 0.0f));
            }
            for (int j = 0; j < K + 2; ++j) {
                float x = local[j];
                for (int off = 16; off > 0; off >>= 1) x += __shfl_down_sync(0xffffffffu, x, off);
                if ((threadIdx.x & 31) == 0) atomicAdd(&block_acc[j], x);
            }
            __syncthreads();
            if (threadIdx.x < K + 2) atomicAdd(&acc[threadIdx.x], block_acc[threadIdx.x]);
        }
        """;

    [DllImport("libcuda.so.1")] static extern int cuInit(uint flags);
    [DllImport("libcuda.so.1")] static extern int cuDeviceGet(out int device, int ordinal);
    [DllImport("libcuda.so.1")] static extern int cuDeviceGetAttribute(out int value, int attribute, int device);
    [DllImport("libcuda.so.1")] static extern int cuDevicePrimaryCtxRetain(out IntPtr ctx, int device);
    [DllImport("libcuda.so.1")] static extern int cuCtxGetCurrent(out IntPtr ctx);
    [DllImport("libcuda.so.1")] static extern int cuCtxSetCurrent(IntPtr ctx);
    [DllImport("libcuda.so.1")] static extern int cuModuleLoadData(out IntPtr module, byte[] image);
    [DllImport("libcuda.so.1")] static extern int cuModuleGetFunction(out IntPtr function, IntPtr module, string name);
    [DllImport("libcuda.so.1")] static extern int cuLaunchKernel(IntPtr f, uint gx, uint gy, uint gz, uint bx, uint by, uint bz,
        uint sharedMem, IntPtr stream, IntPtr[] kernelParams, IntPtr extra);

    delegate int NvrtcCreate(out IntPtr prog, string src, string name, int numHeaders, IntPtr headers, IntPtr includeNames);
    delegate int NvrtcCompile(IntPtr prog, int numOptions, string[] options);
    delegate int NvrtcSize(IntPtr prog, out nuint size);
    delegate int NvrtcGet(IntPtr prog, byte[] buffer);
    delegate int NvrtcDestroy(ref IntPtr prog);

    readonly IntPtr features, backward, psiForward, psiBackward, context;
    readonly int device;

    public string Architecture { get; }

    /// <summary>The most bases the ψ kernels take (the size of their per-thread accumulators, less w_b and w_s).</summary>
    public const int MaxPsiBases = 16;

    KanCudaKernels(int device, IntPtr context, IntPtr[] functions, string arch)
    {
        (this.device, this.context, Architecture) = (device, context, arch);
        (features, backward, psiForward, psiBackward) = (functions[0], functions[1], functions[2], functions[3]);
    }

    /// <summary>Compiles and loads the kernels, or returns null with the reason (no NVRTC, no driver, compile error).</summary>
    public static KanCudaKernels? TryLoad(int deviceIndex, out string? problem)
    {
        problem = null;
        try
        {
            Check(cuInit(0), "cuInit");
            Check(cuDeviceGet(out var dev, deviceIndex), "cuDeviceGet");
            Check(cuDeviceGetAttribute(out var major, 75, dev), "compute capability");
            Check(cuDeviceGetAttribute(out var minor, 76, dev), "compute capability");
            Check(cuDevicePrimaryCtxRetain(out var ctx, dev), "cuDevicePrimaryCtxRetain");
            Check(cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
            var arch = $"sm_{major}{minor}";
            var cubin = Compile(arch);
            Check(cuModuleLoadData(out var module, cubin), "cuModuleLoadData");
            var functions = new[] { "kan_features", "kan_features_backward", "psi_forward", "psi_backward" }.Select(name =>
            {
                Check(cuModuleGetFunction(out var f, module, name), $"cuModuleGetFunction {name}");
                return f;
            }).ToArray();
            return new KanCudaKernels(deviceIndex, ctx, functions, arch);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            problem = e.Message.Split('\n')[0];
            return null;
        }
    }

    static byte[] Compile(string arch)
    {
        var lib = LoadNvrtc();
        T F<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(lib, name));
        Check(F<NvrtcCreate>("nvrtcCreateProgram")(out var prog, Source, "kan_features.cu", 0, IntPtr.Zero, IntPtr.Zero), "nvrtcCreateProgram");
        try
        {
            int status = F<NvrtcCompile>("nvrtcCompileProgram")(prog, 2, [$"--gpu-architecture={arch}", "--std=c++17"]);
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

    static IntPtr Pointer(Tensor? t)
    {
        if (t is null) return IntPtr.Zero;
        using var storage = t.storage<float>();
        return storage.data_ptr() + (nint)(t.storage_offset() * sizeof(float));
    }

    void Launch(IntPtr function, long n, params object[] args) => LaunchOn(function, (uint)((n + Block - 1) / Block), Block, 0, args);

    const int Block = 256;

    /// <summary>Static shared memory a block may take without opting in (48 KiB on every architecture since sm_20).</summary>
    const int SharedLimit = 48 * 1024;

    void LaunchOn(IntPtr function, uint grid, int block, int sharedBytes, params object[] args)
    {
        // The calling thread (e.g. autograd's device thread) may not have the context current yet.
        if (cuCtxGetCurrent(out var current) != 0 || current == IntPtr.Zero) cuCtxSetCurrent(context);
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
        finally { foreach (var h in handles) h.Free(); }
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
    /// <paramref name="u"/> must be dense (<see cref="DenseLayout"/>); the result has its strides.
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
        if (u.dtype != float32 || coef.dtype != float32 || !coef.is_contiguous() || knots.BasisCount > MaxPsiBases || !IsDense(u))
            throw new ArgumentException("ψ kernels: float32, at most 16 bases, a dense input");
    }

    /// <summary>
    /// True when the elements of <paramref name="t"/> fill its storage span exactly once in some order (contiguous,
    /// channels-last, any permutation of a contiguous tensor): an element-wise kernel can then run over memory order.
    /// </summary>
    public static bool IsDense(Tensor t)
    {
        var dims = t.shape.Zip(t.stride()).Where(d => d.First != 1).OrderBy(d => d.Second).ToArray();
        long expected = 1;
        foreach (var (size, stride) in dims)
        {
            if (stride != expected) return false;
            expected *= size;
        }
        return true;
    }

    /// <summary><paramref name="t"/> itself when dense, else a contiguous copy.</summary>
    public static Tensor DenseLayout(Tensor t) => IsDense(t) ? t.alias() : t.contiguous();
}
