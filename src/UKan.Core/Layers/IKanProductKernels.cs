using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The float32 products of the KAN layers on our CUDA kernels (UKan.Native, Native/Kernels/kan_product.cu):
/// c = a · b for 2-D a (M × K) and b (K × N) with either operand stored row-major or transposed (all but both
/// transposed), in one of <see cref="KanProductTiles"/>'s tiles (on the CUDA cores, or on the tensor cores at float32
/// accuracy: 3xTF32), the reduction split in S slices whose partial products
/// are then added in a fixed order. <see cref="SplitReduction"/> chooses among these and cuBLAS by timing.
/// </summary>
public interface IKanProductKernels
{
    /// <summary>Whether the device has the TF32 tensor cores the 3xTF32 kernels need (sm_80 on); before that they are never taken.</summary>
    bool Tf32TensorCores { get; }

    /// <summary>Whether the kernels take a · b in <paramref name="tile"/> and <paramref name="splits"/> slices: float32 on this device, a layout they have, sizes and alignment.</summary>
    bool KanProductSupports(Tensor a, Tensor b, KanProductTile tile, int splits);

    /// <summary>a · b (M × N, contiguous float32) in tile <paramref name="tile"/> of <see cref="KanProductTiles.All"/> or <see cref="KanProductTiles.Tf32x3"/>.</summary>
    Tensor KanProduct(Tensor a, Tensor b, KanProductTile tile, int splits);

    /// <summary>
    /// Σ_s partials[s] for contiguous float32 partial products (S, M, N): the fixed-order merge of split products, added
    /// in double and rounded once (M × N, float32).
    /// </summary>
    Tensor SumSplits(Tensor partials);

    /// <summary>Whether <see cref="KanInputGrad"/> takes these tensors (float32, contiguous, 8 bases, sizes, a grid that fills the GPU).</summary>
    bool KanInputGradSupports(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots, bool tensorCores);

    /// <summary>
    /// KANLinear's dL/dx (rows × in) from dL/dy (rows × out), its fused weight W (out × in·(1+K)) and x: the features'
    /// backward applied to dL/dF = dL/dy · W without storing dL/dF (<see cref="KanInputGradient"/>); the product on the
    /// tensor cores at float32 accuracy (3xTF32) with <paramref name="tensorCores"/>, else on the CUDA cores.
    /// </summary>
    Tensor KanInputGrad(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots, bool tensorCores);
}
