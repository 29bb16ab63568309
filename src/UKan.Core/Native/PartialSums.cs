using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// The fixed-order merge of a reduction's partial sums (Native/Kernels/partial_sums.cu): G rows of E float32 partials,
/// one per block of a first kernel, added per element into E outputs, in double and without atomics. The weight
/// gradients of the few-channel and depthwise 3 × 3 convolutions end with it.
/// </summary>
public sealed class PartialSums(CudaKernelModule module)
{
    /// <summary>The kernel in the CUDA source.</summary>
    public const string Function = "sum_partial_rows";

    /// <summary>Rows each lane of the merge adds before the lanes' tree (so the merge is a few loads deep).</summary>
    const long Depth = 8;

    readonly IntPtr function = module.Function(Function);

    /// <summary>
    /// The merge's launch for <paramref name="rows"/> rows of <paramref name="width"/> partials: a block per 32 elements,
    /// with the power of two of lanes (at most 32) that leaves each lane about <see cref="Depth"/> rows.
    /// </summary>
    internal static (uint Blocks, int Lanes) Geometry(long rows, long width)
    {
        int lanes = 1;
        while (lanes < 32 && lanes * Depth < rows) lanes *= 2;
        return ((uint)((width + 31) / 32), lanes);
    }

    /// <summary>output[e] = Σ_g partial[g·width + e] for the first <paramref name="rows"/> rows (output: width float32 values).</summary>
    public void Sum(Tensor partial, long rows, long width, Tensor output)
    {
        var (blocks, lanes) = Geometry(rows, width);
        module.LaunchOn(function, (blocks, 1), (32, lanes), 0, Pointer(partial), (int)rows, (int)width, Pointer(output));
    }
}
