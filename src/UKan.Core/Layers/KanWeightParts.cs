using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The parameters one KANLinear's fused weight is made of: W_b (out, in), W_s (out, in, K) and the standalone spline
/// scaler s (out, in), or null where the layer has none (s = 1).
/// </summary>
public readonly record struct KanWeightParts(Tensor BaseWeight, Tensor SplineWeight, Tensor? Scaler)
{
    /// <summary>Which of the three get a gradient (the scaler only where there is one).</summary>
    public KanWeightNeeds Needs => new(BaseWeight.requires_grad, SplineWeight.requires_grad, Scaler?.requires_grad == true);
}
