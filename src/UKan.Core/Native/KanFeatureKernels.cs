using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// The fused KANLinear feature kernels (Native/Kernels/kan_features.cu) and their backward pass: one launch each
/// replaces the ~10 element-wise kernels (forward) and ~20 (backward) of the torch formulation; the math is that of
/// <see cref="KanFeatures.Torch"/>.
/// </summary>
public sealed class KanFeatureKernels : IKanFeatureKernels
{
    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions = ["kan_features", "kan_features_backward"];

    readonly CudaKernelModule module;
    readonly IntPtr features, backward;

    public KanFeatureKernels(CudaKernelModule module) =>
        (this.module, features, backward) = (module, module.Function("kan_features"), module.Function("kan_features_backward"));

    public Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots)
    {
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var feat = empty(x.shape[0], x.shape[1] * (knots.BasisCount + 1), dtype: float32, device: x.device);
        long n = xc.numel();
        if (n > 0) LaunchTiled(features, n, knots, Pointer(xc), Pointer(feat));
        return feat.MoveToOuterDisposeScope();
    }

    public Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots)
    {
        using var scope = NewDisposeScope();
        var xc = x.contiguous();
        var gf = gradFeatures.contiguous();
        var gx = empty_like(xc);
        long n = xc.numel();
        if (n > 0) LaunchTiled(backward, n, knots, Pointer(xc), Pointer(gf), Pointer(gx));
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
