using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>
/// One kernel's two entries by storage type (Native/Kernels/storage.cu): <c>name</c> for float32 tensors and
/// <c>name_bf16</c> for bfloat16 ones (what the convolutions hand over under bf16 autocast), the same float arithmetic
/// with one rounding at each store. The launcher picks the entry by the tensor's dtype and allocates its results in it.
/// </summary>
public readonly record struct StorageEntries(IntPtr Float32, IntPtr BFloat16)
{
    /// <summary>The suffix of the bfloat16 entries.</summary>
    public const string BFloat16Suffix = "_bf16";

    /// <summary>The names of <paramref name="kernels"/>' entries: each name, then each with <see cref="BFloat16Suffix"/>.</summary>
    public static string[] Names(params string[] kernels) => [.. kernels, .. kernels.Select(k => k + BFloat16Suffix)];

    /// <summary>Both entries of <paramref name="kernel"/> in <paramref name="module"/>.</summary>
    public static StorageEntries Load(CudaKernelModule module, string kernel) =>
        new(module.Function(kernel), module.Function(kernel + BFloat16Suffix));

    /// <summary>Whether the kernels have an entry for <paramref name="dtype"/>: float32 or bfloat16.</summary>
    public static bool Stores(ScalarType dtype) => UKan.Layers.KernelStorage.Stores(dtype);

    /// <summary>The entry for <paramref name="x"/>'s dtype; an <see cref="ArgumentException"/> for other dtypes.</summary>
    public IntPtr For(Tensor x) => x.dtype switch
    {
        ScalarType.Float32 => Float32,
        ScalarType.BFloat16 => BFloat16,
        _ => throw new ArgumentException($"the kernels store float32 or bfloat16, not {x.dtype}"),
    };

    /// <summary>
    /// Checks that a backward's incoming gradient has its input's dtype (autograd hands over the output's, which is
    /// the input's): the kernels read both through one storage type.
    /// </summary>
    public static void CheckGradient(string family, Tensor x, Tensor grad)
    {
        if (grad.dtype != x.dtype)
            throw new ArgumentException($"{family} backward: a {grad.dtype} gradient for a {x.dtype} input (they must have one dtype)");
    }
}
