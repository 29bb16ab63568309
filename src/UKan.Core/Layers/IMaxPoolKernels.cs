using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// relu(2 × 2 max-pooling, stride 2) as one operation (<see cref="MaxPoolRelu"/>): the fused CUDA kernels (UKan.Native,
/// reached through <see cref="KanFeatures.CudaKernels"/>) and the torch formulation (<see cref="MaxPoolRelu.Torch"/>,
/// their reference) implement it.
/// </summary>
public interface IMaxPoolKernels
{
    /// <summary>
    /// relu(max_pool2d(x, 2, 2)) for a float32 or bfloat16 <paramref name="x"/> (N, C, H, W), dense in NCHW or
    /// channels-last (<see cref="MaxPoolRelu.Takes"/>); the result (N, C, ⌊H/2⌋, ⌊W/2⌋) has x's layout and dtype.
    /// </summary>
    Tensor MaxPoolTwiceRelu(Tensor x);

    /// <summary>
    /// dL/dx from the forward's input <paramref name="x"/> and dL/dy = <paramref name="grad"/> (any strides, x's dtype), the
    /// argmax and ReLU's mask recomputed from x; the result has x's shape, layout and dtype, zero off the windows' argmaxes.
    /// </summary>
    Tensor MaxPoolTwiceReluBackward(Tensor x, Tensor grad);
}
