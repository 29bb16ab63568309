using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// LayerNorm over the last dimension with affine weight and bias (<see cref="FusedLayerNorm"/>): the fused CUDA kernels
/// (UKan.Native, reached through <see cref="KanFeatures.CudaKernels"/>) and the torch formulation
/// (<see cref="FusedLayerNorm.Torch"/>, their reference) implement it.
/// </summary>
public interface ILayerNormKernels
{
    /// <summary>
    /// y = (x − mean)·rstd·w + b per row of the last dimension (C), rstd = 1/√(var + eps) with the biased variance; x
    /// float32 or bfloat16, contiguous; y float32 with x's shape. Returns y and each row's mean and rstd (float32).
    /// With <paramref name="inputBias"/> (float32, C) the rows are x + inputBias (a bias of the layer before, added here).
    /// </summary>
    (Tensor Y, Tensor Mean, Tensor Rstd) LayerNormForward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor? inputBias = null);

    /// <summary>
    /// dL/dx (stored as x), dL/dw and dL/db (float32) from dL/dy = <paramref name="grad"/> (float32, x's shape); with
    /// <paramref name="inputBias"/> (that of the forward), dL/dinputBias (the column sums of dL/dx) written into
    /// <paramref name="gradInputBias"/> (float32, C) where given.
    /// </summary>
    (Tensor GradX, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor x, Tensor grad, Tensor mean, Tensor rstd, Tensor weight,
        Tensor? inputBias = null, Tensor? gradInputBias = null);
}
