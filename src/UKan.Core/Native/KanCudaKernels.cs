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
        extern "C" __global__ void kan_features(const float* __restrict__ x, float* __restrict__ feat,
                                                long long n, float t0, float inv_h, int K) {
            long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (i >= n) return;
            float v = x[i];
            float* f = feat + i * (K + 1);
            f[0] = v / (1.0f + expf(-v));                       // SiLU
            float u = (v - t0) * inv_h;                         // position in knot steps from the first knot
            for (int j = 0; j < K; ++j) {
                // cardinal cubic B-spline centred at j + 2: (relu(2-s)^3 - 4 relu(1-s)^3) / 6, s = |u - j - 2|
                float s = fabsf(u - (float)j - 2.0f);
                float a = fmaxf(2.0f - s, 0.0f), b = fmaxf(1.0f - s, 0.0f);
                f[1 + j] = (a * a * a - 4.0f * b * b * b) * (1.0f / 6.0f);
            }
        }
        extern "C" __global__ void kan_features_backward(const float* __restrict__ x, const float* __restrict__ gfeat,
                                                         float* __restrict__ gx, long long n, float t0, float inv_h, int K) {
            long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (i >= n) return;
            float v = x[i];
            const float* g = gfeat + i * (K + 1);
            float sig = 1.0f / (1.0f + expf(-v));
            float acc = g[0] * sig * (1.0f + v * (1.0f - sig));  // d SiLU / dx
            float u = (v - t0) * inv_h;
            for (int j = 0; j < K; ++j) {
                float d = u - (float)j - 2.0f, s = fabsf(d);
                float a = fmaxf(2.0f - s, 0.0f), b = fmaxf(1.0f - s, 0.0f);
                float dn = (4.0f * b * b - a * a) * 0.5f * inv_h;  // d/dx of the cubic, for d >= 0
                acc += g[1 + j] * (d < 0.0f ? -dn : dn);
            }
            gx[i] = acc;
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

    readonly IntPtr features, backward, context;
    readonly int device;

    public string Architecture { get; }

    KanCudaKernels(int device, IntPtr context, IntPtr features, IntPtr backward, string arch) =>
        (this.device, this.context, this.features, this.backward, Architecture) = (device, context, features, backward, arch);

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
            Check(cuModuleGetFunction(out var f, module, "kan_features"), "cuModuleGetFunction");
            Check(cuModuleGetFunction(out var b, module, "kan_features_backward"), "cuModuleGetFunction");
            return new KanCudaKernels(deviceIndex, ctx, f, b, arch);
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

    static IntPtr Pointer(Tensor t)
    {
        using var storage = t.storage<float>();
        return storage.data_ptr() + (nint)(t.storage_offset() * sizeof(float));
    }

    void Launch(IntPtr function, long n, params object[] args)
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
            const int block = 256;
            uint grid = (uint)((n + block - 1) / block);
            var stream = TorchCudaShim.Available ? TorchCudaShim.CurrentStream(device) : IntPtr.Zero;
            Check(cuLaunchKernel(function, grid, 1, 1, block, 1, 1, 0, stream, parameters, IntPtr.Zero), "cuLaunchKernel");
        }
        finally { foreach (var h in handles) h.Free(); }
    }

    public Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots)
    {
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var feat = empty(x.shape[0], x.shape[1] * (knots.BasisCount + 1), dtype: float32, device: x.device);
        long n = xc.numel();
        if (n > 0) Launch(features, n, Pointer(xc), Pointer(feat), n, (float)knots.First, (float)(1.0 / knots.Step), knots.BasisCount);
        return feat.MoveToOuterDisposeScope();
    }

    public Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots)
    {
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var gf = gradFeatures.contiguous();
        var gx = empty_like(xc);
        long n = xc.numel();
        if (n > 0) Launch(backward, n, Pointer(xc), Pointer(gf), Pointer(gx), n, (float)knots.First, (float)(1.0 / knots.Step), knots.BasisCount);
        return gx.MoveToOuterDisposeScope();
    }
}
