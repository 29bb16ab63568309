using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// 3 × 3 convolutions, stride 1, zero padding 1, as <see cref="FusedConv3x3"/> runs them: the CUDA kernels for few
/// channels and for depthwise layers (UKan.Native, reached through <see cref="KanFeatures.CudaKernels"/>) and the torch
/// formulation (<see cref="FusedConv3x3.Torch"/>, their reference) implement it.
/// </summary>
public interface IConv3x3Kernels
{
    /// <summary>
    /// Whether a layer of <paramref name="inChannels"/> → <paramref name="outChannels"/> in <paramref name="groups"/>
    /// groups is taken (one group, or depthwise: groups = in = out); <paramref name="tf32"/>: whether the convolution may
    /// round its inputs to TF32 (PyTorch's <c>cudnn.allow_tf32</c>), which the kernels for one group need.
    /// </summary>
    bool Conv3x3Supports(long inChannels, long outChannels, long groups, bool tf32);

    /// <summary>conv2d(x, weight, bias, stride 1, padding 1, groups = Cin / weight's second dimension) for float32 (N, Cin, H, W) x dense in channels-last; the result is channels-last.</summary>
    Tensor Conv3x3(Tensor x, Tensor weight, Tensor? bias);

    /// <summary>
    /// conv2d(x, weight) without bias as <see cref="Conv3x3"/>, with the batch statistics of the result for the batch norm
    /// that follows where the kernels form them while they write it (else null): G groups of (count, mean, M2) per output
    /// channel, laid out [G][3][Cout] (<see cref="IBatchNormReluKernels.BatchNormReluForward"/>'s <c>statistics</c>).
    /// </summary>
    (Tensor Y, Tensor? Statistics) Conv3x3WithStatistics(Tensor x, Tensor weight);

    /// <summary>dL/dx (channels-last) from dL/dy = <paramref name="grad"/> (any strides), the weight and the layer's groups.</summary>
    Tensor Conv3x3BackwardInput(Tensor grad, Tensor weight, long groups);

    /// <summary>dL/dweight, the weight's shape laid out channels-last, from the forward's x and dL/dy (any strides).</summary>
    Tensor Conv3x3BackwardWeight(Tensor x, Tensor grad, Tensor weight);
}
