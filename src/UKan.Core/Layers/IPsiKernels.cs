using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Fused kernels of the shared activation ψ(u) = w_b·SiLU(u) + w_s·Σ_j c_j B_j(u) for uniform cubic knots
/// (<see cref="SharedActivation"/>), reached like the KAN features' kernels (<see cref="KanFeatures.PsiKernels"/>).
/// </summary>
public interface IPsiKernels
{
    /// <summary>The most bases the kernels take.</summary>
    int MaxPsiBases { get; }

    /// <summary>ψ(u) in one pass; <paramref name="u"/> must be dense (<see cref="TensorLayout.DenseLayout"/>), the result has its strides.</summary>
    Tensor PsiForward(Tensor u, Tensor coef, Tensor? baseScale, Tensor? splineScale, BSplineBasis.UniformKnots knots);

    /// <summary>
    /// From dL/dψ = <paramref name="grad"/> (u's strides): dL/du (null unless <paramref name="inputGrad"/>; with the
    /// spline slope only when <paramref name="exact"/>) and one tensor of K + 2 sums: dL/dc (K), dL/dw_b, dL/dw_s.
    /// </summary>
    (Tensor? GradU, Tensor Sums) PsiBackward(Tensor u, Tensor grad, Tensor coef, Tensor? baseScale, Tensor? splineScale,
        BSplineBasis.UniformKnots knots, bool exact, bool inputGrad);
}
