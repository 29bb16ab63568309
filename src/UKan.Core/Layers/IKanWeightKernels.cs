using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// KANLinear's fused weight [W_b, W_s·s] interleaved per input and its backward (<see cref="KanWeight"/>): the CUDA
/// kernels (UKan.Native, reached through <see cref="KanFeatures.CudaKernels"/>) and the torch formulation
/// (<see cref="KanWeight.Torch"/>, their reference) implement it.
/// </summary>
public interface IKanWeightKernels
{
    /// <summary>
    /// W (out, in·(1+K)) from W_b (out, in), W_s (out, in, K) and the spline scaler s (out, in), or none (s = 1):
    /// W[o, i(1+K)] = W_b[o, i], W[o, i(1+K) + 1 + k] = W_s[o, i, k]·s[o, i].
    /// </summary>
    Tensor KanWeightForward(Tensor baseWeight, Tensor splineWeight, Tensor? scaler);

    /// <summary>dL/dW_b, dL/dW_s and dL/ds (null where not asked for, or where there is no scaler) from dL/dW.</summary>
    (Tensor? GradBase, Tensor? GradSpline, Tensor? GradScaler) KanWeightBackward(Tensor grad, Tensor splineWeight, Tensor? scaler,
        bool needBase, bool needSpline, bool needScaler);
}
