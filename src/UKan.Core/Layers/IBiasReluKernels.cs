using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// relu(y + b) in place over a convolution's output, b per channel, as one operation (<see cref="BiasRelu"/>): the fused
/// CUDA kernel (UKan.Native, reached through <see cref="KanFeatures.CudaKernels"/>) and the torch formulation
/// (<see cref="BiasRelu.Torch"/>, its reference) implement it.
/// </summary>
public interface IBiasReluKernels
{
    /// <summary>
    /// Sets <paramref name="y"/> (N, C, H, W), float32 or bfloat16, dense in NCHW or channels-last
    /// (<see cref="BiasRelu.Takes"/>), to relu(y + bias[c]) in place; <paramref name="bias"/> holds C values (float32, or
    /// converted to it). NaN stays NaN, as torch's ReLU lets it. Returns <paramref name="y"/>.
    /// </summary>
    Tensor BiasReluInPlace(Tensor y, Tensor bias);
}
