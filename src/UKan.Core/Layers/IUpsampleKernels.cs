using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// relu(×2 bilinear upsampling) as one operation (<see cref="UpsampleRelu"/>): the fused CUDA kernels (UKan.Native,
/// reached through <see cref="KanFeatures.CudaKernels"/>) and the torch formulation (<see cref="UpsampleRelu.Torch"/>,
/// their reference) implement it.
/// </summary>
public interface IUpsampleKernels
{
    /// <summary>
    /// relu(up(x)) + <paramref name="skip"/> (none: relu(up(x))) for a float32 or bfloat16 <paramref name="x"/> (N, C, H,
    /// W), dense in NCHW or channels-last (<see cref="UpsampleRelu.Takes"/>); the result (N, C, 2H, 2W) has x's layout
    /// and dtype, and so must the skip (<see cref="UpsampleRelu.SkipFits"/>).
    /// </summary>
    Tensor UpsampleTwiceRelu(Tensor x, Tensor? skip = null);

    /// <summary>
    /// dL/dx from the forward's input <paramref name="x"/> and dL/dy = <paramref name="grad"/> (any strides, x's dtype), ReLU's
    /// mask recomputed from x; the result has x's shape, layout and dtype.
    /// </summary>
    Tensor UpsampleTwiceReluBackward(Tensor x, Tensor grad);

    /// <summary>
    /// conv1x1(relu(up(x)); <paramref name="weight"/>, <paramref name="bias"/>), the decoder's last upsampling with the
    /// segmentation head (<see cref="UpsampleReluHead"/>), for a float32 channels-last x of C channels and a
    /// (K, C, 1, 1) weight (<see cref="UpsampleReluHead.Takes"/>); the result is (N, K, 2H, 2W), dense NCHW.
    /// </summary>
    Tensor UpsampleTwiceReluConv1x1(Tensor x, Tensor weight, Tensor bias);

    /// <summary>
    /// dL/dx (x's shape and layout), dL/dw (K, C, 1, 1) and dL/db (K) of <see cref="UpsampleTwiceReluConv1x1"/> from x,
    /// the weight and dL/dz = <paramref name="grad"/> (N, K, 2H, 2W, any strides); ReLU's mask recomputed from x.
    /// </summary>
    (Tensor GradX, Tensor GradWeight, Tensor GradBias) UpsampleTwiceReluConv1x1Backward(Tensor x, Tensor weight, Tensor grad);
}
