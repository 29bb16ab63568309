using static TorchSharp.torch;

namespace UKan.Losses;

/// <summary>
/// U-KAN's BCE + Dice loss as one operation (<see cref="FusedBceDice"/>): the fused CUDA kernels (UKan.Native, reached
/// through <see cref="UKan.Layers.KanFeatures.CudaKernels"/>) and the torch formulation (<see cref="FusedBceDice.Torch"/>,
/// their reference) implement it.
/// </summary>
public interface IBceDiceKernels
{
    /// <summary>
    /// The loss (a 0-dimensional float32 tensor) of <paramref name="logits"/> against <paramref name="target"/> (float32,
    /// one shape and layout, (N, C, H, W)), and each image's sums Σ p·t, Σ p, Σ t (N × 3, p = σ(logits)) for the backward.
    /// </summary>
    (Tensor Loss, Tensor Sums) BceDiceForward(Tensor logits, Tensor target, double bceWeight, double smooth);

    /// <summary>dL/dlogits for the incoming gradient <paramref name="gradLoss"/> (one value), from the forward's sums.</summary>
    Tensor BceDiceBackward(Tensor logits, Tensor target, Tensor sums, Tensor gradLoss, double bceWeight, double smooth);
}
