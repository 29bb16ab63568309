using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// The fused KANLinear feature kernels (Native/Kernels/kan_features.cu) and their backward pass: one launch each
/// replaces the ~10 element-wise kernels (forward) and ~20 (backward) of the torch formulation; the math is that of
/// <see cref="KanFeatures.Torch"/>. Values are stored as float32 or bfloat16 (Kernels/storage.cu) and computed in float32.
/// </summary>
public sealed class KanFeatureKernels : IKanFeatureKernels
{
    /// <summary>The forward entries by (input, features) storage: float32 as before, and bfloat16 features for a bf16 product.</summary>
    static readonly Dictionary<(ScalarType, ScalarType), string> Entries = new()
    {
        [(ScalarType.Float32, ScalarType.Float32)] = "",
        [(ScalarType.Float32, ScalarType.BFloat16)] = "_to_bf16",
        [(ScalarType.BFloat16, ScalarType.BFloat16)] = "_bf16",
    };

    /// <summary>The backward entries by (input, features' gradient) storage; dL/dx is stored as the input.</summary>
    static readonly Dictionary<(ScalarType, ScalarType), string> BackwardEntries = new()
    {
        [(ScalarType.Float32, ScalarType.Float32)] = "",
        [(ScalarType.Float32, ScalarType.BFloat16)] = "_from_bf16",
        [(ScalarType.BFloat16, ScalarType.BFloat16)] = "_bf16",
    };

    /// <summary>The kernels of this family in the CUDA source (declared after the tables it is built from).</summary>
    public static readonly string[] Functions =
        [.. Entries.Values.Select(suffix => "kan_features" + suffix), .. BackwardEntries.Values.Select(suffix => "kan_features_backward" + suffix)];

    readonly CudaKernelModule module;
    readonly Dictionary<(ScalarType, ScalarType), IntPtr> features, backward;

    public KanFeatureKernels(CudaKernelModule module)
    {
        this.module = module;
        features = Entries.ToDictionary(e => e.Key, e => module.Function("kan_features" + e.Value));
        backward = BackwardEntries.ToDictionary(e => e.Key, e => module.Function("kan_features_backward" + e.Value));
    }

    public Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots, ScalarType? storage = null)
    {
        var to = storage ?? x.dtype;
        if (!features.TryGetValue((x.dtype, to), out var function))
            throw new ArgumentException($"KAN feature kernels: no kernel from {x.dtype} inputs to {to} features");
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var feat = empty(x.shape[0], x.shape[1] * (knots.BasisCount + 1), dtype: to, device: x.device);
        long n = xc.numel();
        if (n > 0) LaunchTiled(function, n, knots, Pointer(xc), Pointer(feat));
        return feat.MoveToOuterDisposeScope();
    }

    public Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots)
    {
        if (!backward.TryGetValue((x.dtype, gradFeatures.dtype), out var function))
            throw new ArgumentException($"KAN feature kernels: no backward kernel for {x.dtype} inputs and a {gradFeatures.dtype} gradient");
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var gf = gradFeatures.contiguous();
        var gx = empty_like(xc);
        long n = xc.numel();
        if (n > 0) LaunchTiled(function, n, knots, Pointer(xc), Pointer(gf), Pointer(gx));
        return gx.MoveToOuterDisposeScope();
    }

    /// <summary>Threads per block for <paramref name="basisCount"/> bases: a multiple of a warp, at most 256, whose tile fits shared memory.</summary>
    internal static int TileBlock(int basisCount)
    {
        int width = basisCount + 1;
        int block = Math.Max(32, Math.Min(Block, SharedLimit / (width * sizeof(float)) / 32 * 32));
        if (block * width * sizeof(float) > SharedLimit) throw new ArgumentException($"KAN features: {basisCount} bases do not fit a block's shared memory");
        return block;
    }

    /// <summary>
    /// Launches one of the two kernels over <paramref name="n"/> inputs, one thread per input; each block stages its
    /// inputs' 1+K values in shared memory, so a block has as many threads (a multiple of a warp, at most 256) as keep
    /// that tile within the shared-memory limit. The kernels take their pointers, then n, t0, 1/h and K.
    /// </summary>
    void LaunchTiled(IntPtr function, long n, BSplineBasis.UniformKnots knots, params IntPtr[] pointers)
    {
        int width = knots.BasisCount + 1;
        int block = TileBlock(knots.BasisCount);
        object[] args = [.. pointers.Cast<object>(), n, (float)knots.First, (float)(1.0 / knots.Step), knots.BasisCount];
        module.LaunchOn(function, (uint)((n + block - 1) / block), block, block * width * sizeof(float), args);
    }
}
