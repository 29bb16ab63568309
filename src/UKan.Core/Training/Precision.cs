namespace UKan.Training;

/// <summary>Numeric modes for GPU work: of a training run (<see cref="TrainConfig.Precision"/>), bench and selftest.</summary>
public enum Precision
{
    /// <summary>PyTorch's defaults: float32 with TF32 convolutions (cuDNN) and full-FP32 matrix products.</summary>
    Fp32,
    /// <summary>TF32 for convolutions and matrix products.</summary>
    Tf32,
    /// <summary>Strict float32 everywhere (no TF32).</summary>
    Fp32Strict,
    /// <summary>
    /// Mixed precision: CUDA autocast to bfloat16 (convolutions and matrix products in bf16, the fused kernels storing
    /// bf16 activations and computing in float; fp32 weights, optimizer, norm statistics and losses), TF32 convolutions
    /// for what stays fp32. Faster than fp32 on U-KAN (H200: 4.02 against 5.78 ms per step). CUDA with the libtorch
    /// shim only.
    /// </summary>
    Bf16,
}
