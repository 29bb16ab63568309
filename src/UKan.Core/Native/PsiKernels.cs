using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// The fused kernels of ALL U-KAN's shared activation ψ (Native/Kernels/shared_activation_psi.cu, which uses the
/// cardinal B-spline helpers of kan_features.cu): forward and backward in one pass over u each.
/// </summary>
public sealed class PsiKernels : IPsiKernels
{
    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions = ["psi_forward", "psi_backward"];

    readonly CudaKernelModule module;
    readonly IntPtr psiForward, psiBackward;

    public PsiKernels(CudaKernelModule module) =>
        (this.module, psiForward, psiBackward) = (module, module.Function("psi_forward"), module.Function("psi_backward"));

    /// <summary>The most bases the ψ kernels take (the size of their per-thread accumulators, less w_b and w_s).</summary>
    public const int MaxPsiBases = 16;
    int IPsiKernels.MaxPsiBases => MaxPsiBases;

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
            module.Launch(psiForward, n, Pointer(u), Pointer(output), n, Pointer(coef), Pointer(baseScale), Pointer(splineScale),
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
        uint grid = BackwardGrid(n);
        if (n > 0)
            module.LaunchOn(psiBackward, grid, Block, 0, Pointer(u), Pointer(grad), Pointer(gradU), n, Pointer(coef), Pointer(baseScale), Pointer(splineScale),
                (float)knots.First, (float)(1.0 / knots.Step), knots.BasisCount, exact ? 1 : 0, Pointer(sums));
        return (gradU, sums);
    }

    /// <summary>
    /// Blocks of the backward kernel: a grid-stride loop over at most 1,024 blocks, so that partial sums stay per thread
    /// and there is one atomicAdd per block and value.
    /// </summary>
    internal static uint BackwardGrid(long n) => (uint)Math.Clamp((n + Block - 1) / Block, 1, 1024);

    static void CheckPsi(Tensor u, Tensor coef, BSplineBasis.UniformKnots knots)
    {
        if (u.dtype != float32 || coef.dtype != float32 || !coef.is_contiguous() || knots.BasisCount > MaxPsiBases || !TensorLayout.IsDense(u))
            throw new ArgumentException("ψ kernels: float32, at most 16 bases, a dense input");
    }
}
