using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The storage types the fused kernels read and write (UKan.Native's Kernels/storage.cu): float32, and bfloat16 (what
/// the convolutions hand over under bf16 autocast), computed in float with one rounding at each store. The one rule
/// every fused node's "takes this tensor" test applies to dtypes.
/// </summary>
public static class KernelStorage
{
    /// <summary>Whether the kernels store tensors of <paramref name="dtype"/>: float32 or bfloat16.</summary>
    public static bool Stores(ScalarType dtype) => dtype is ScalarType.Float32 or ScalarType.BFloat16;
}
