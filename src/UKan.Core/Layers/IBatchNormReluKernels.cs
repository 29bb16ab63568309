using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Training-mode batch norm followed by ReLU as one operation (<see cref="BatchNormRelu"/>): the fused CUDA kernels
/// (UKan.Native, reached through <see cref="KanFeatures.CudaKernels"/>) and the torch formulation
/// (<see cref="BatchNormRelu.Torch"/>, their reference) implement it.
/// </summary>
public interface IBatchNormReluKernels
{
    /// <summary>
    /// y = max(0, (x − mean)·invstd·w + b) with the batch's per-channel mean and invstd = 1/√(var + eps) (biased
    /// variance), for x of shape (N, C, H, W); moves the running statistics by <paramref name="momentum"/> (the
    /// running variance towards the unbiased variance; the running mean towards the batch mean plus
    /// <paramref name="runningMeanShift"/> if given: the bias of a convolution left out before it, see
    /// <see cref="ConvBatchNorm"/>) and adds 1 to <paramref name="batchesTracked"/> if given. Returns y (x's strides),
    /// mean and invstd (C each). <paramref name="statistics"/>, if given, are x's statistics already formed by whatever
    /// wrote x (<see cref="IConv3x3Kernels.Conv3x3WithStatistics"/>): G groups of (count, mean, M2) per channel, [G][3][C],
    /// merged instead of reading x for them. <paramref name="residual"/>, if given (x's shape, strides and dtype), is added
    /// to y: relu(bn(x)) + residual.
    /// </summary>
    (Tensor Y, Tensor Mean, Tensor InvStd) BatchNormReluForward(Tensor x, Tensor? weight, Tensor? bias,
        Tensor runningMean, Tensor runningVar, Tensor? batchesTracked, double momentum, double eps, Tensor? runningMeanShift = null,
        Tensor? statistics = null, Tensor? residual = null);

    /// <summary>
    /// The gradients from dL/dy = <paramref name="grad"/> (x's strides): dL/dx, dL/dw and dL/db (null when
    /// <paramref name="weight"/> or <paramref name="bias"/> is), ReLU's mask recomputed from x.
    /// </summary>
    (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) BatchNormReluBackward(Tensor x, Tensor grad, Tensor mean, Tensor invStd,
        Tensor? weight, Tensor? bias);
}
