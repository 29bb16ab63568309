using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>KANLinear's per-input features and their input gradient (<see cref="KanFeatures"/>): torch or fused kernels.</summary>
public interface IKanFeatureKernels
{
    /// <summary>(rows, in) → (rows, in·(1+K)) stored as <paramref name="storage"/> (default: x's dtype), computed in float32.</summary>
    Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots, ScalarType? storage = null);

    /// <summary>dL/dx in x's dtype from dL/dfeatures (x's dtype, or bfloat16 after a bf16 product), computed in float32.</summary>
    Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots);
}
