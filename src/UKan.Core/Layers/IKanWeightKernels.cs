using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// KANLinear's fused weight [W_b, W_s·s] interleaved per input and its backward (<see cref="KanWeight"/>), for one layer
/// or several at once (a model's KANLinears in one launch each way): the CUDA kernels (UKan.Native, reached through
/// <see cref="KanFeatures.CudaKernels"/>) and the torch formulation (<see cref="KanWeight.Torch"/>, their reference)
/// implement it.
/// </summary>
public interface IKanWeightKernels
{
    /// <summary>
    /// Each layer's W (out, in·(1+K)) from W_b (out, in), W_s (out, in, K) and the spline scaler s (out, in), or none
    /// (s = 1): W[o, i(1+K)] = W_b[o, i], W[o, i(1+K) + 1 + k] = W_s[o, i, k]·s[o, i].
    /// </summary>
    Tensor[] KanWeightForward(IReadOnlyList<KanWeightParts> layers);

    /// <summary>
    /// Each layer's dL/dW_b, dL/dW_s and dL/ds from its dL/dW (<paramref name="grads"/>[i]; null: the layer's W got no
    /// gradient, and none of its gradients is computed), those <paramref name="needs"/>[i] asks for; each written into
    /// <paramref name="into"/>[i]'s tensor where one is given (contiguous, the parameter's shape), which it then returns.
    /// </summary>
    KanWeightGradients[] KanWeightBackward(IReadOnlyList<Tensor?> grads, IReadOnlyList<KanWeightParts> layers, IReadOnlyList<KanWeightNeeds> needs,
        IReadOnlyList<KanWeightGradients>? into = null);
}
