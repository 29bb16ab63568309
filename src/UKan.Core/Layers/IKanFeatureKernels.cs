using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>KANLinear's per-input features and their input gradient (<see cref="KanFeatures"/>): torch or fused kernels.</summary>
public interface IKanFeatureKernels
{
    Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots);
    Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots);
}
