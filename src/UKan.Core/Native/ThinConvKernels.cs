using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// The weight gradient of a 3 × 3 convolution whose input has 1 to 4 channels (a U-Net's first layer, on the images),
/// over float32 channels-last maps (Native/Kernels/thin_conv.cu): per-block partial sums in float32 on the CUDA cores,
/// then the fixed-order merge of <see cref="PartialSums"/>. cuDNN runs this reduction for 3 channels in a generic kernel
/// several times slower than reading the maps; its forward and the input gradient (which a first layer does not need)
/// stay with PyTorch. The math is <see cref="FusedConv3x3.Torch.Conv3x3BackwardWeight"/>'s; <c>ukan selftest --device
/// cuda</c> compares the two.
/// </summary>
public sealed class ThinConvKernels
{
    /// <summary>The (input, output) channels with kernels: 1 to 4 in (gray, two-channel, RGB, RGBA images), 8, 16 or 32 out.</summary>
    public static readonly IReadOnlyList<(int In, int Out)> Shapes =
        [.. from i in new[] { 1, 2, 3, 4 } from o in new[] { 8, 16, 32 } select (i, o)];

    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions = [.. Shapes.Select(Name)];

    static string Name((int In, int Out) s) => $"conv3x3_thin_weight_partial_{s.In}_{s.Out}";

    /// <summary>Threads per block (thin_conv.cu's THIN_THREADS): the output channels times the pixel lanes.</summary>
    internal const int Block = 256;

    readonly CudaKernelModule module;
    readonly PartialSums merge;
    readonly IReadOnlyDictionary<(int In, int Out), IntPtr> entries;

    public ThinConvKernels(CudaKernelModule module) =>
        (this.module, merge, entries) = (module, new PartialSums(module), Shapes.ToDictionary(s => s, s => module.Function(Name(s))));

    /// <summary>Whether the kernels take a layer of <paramref name="inChannels"/> → <paramref name="outChannels"/> (one group).</summary>
    public static bool Supports(long inChannels, long outChannels) => Shapes.Contains(((int)inChannels, (int)outChannels));

    /// <summary>dL/dw (Cout, Cin, 3, 3), laid out channels-last as the parameter is, from x (float32, dense channels-last) and dL/dy (any strides).</summary>
    public Tensor BackwardWeight(Tensor x, Tensor grad)
    {
        if (x.dtype != ScalarType.Float32 || x.dim() != 4 || !TensorLayout.IsChannelsLastDense(x))
            throw new ArgumentException("thin convolution kernels: x must be a float32 (N, C, H, W) tensor dense in channels-last");
        var (n, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
        long cout = grad.shape[1];
        if (!Supports(cin, cout)) throw new ArgumentException($"thin convolution kernels: no kernels for {cin} → {cout} channels");
        using var scope = NewDisposeScope();
        var g = TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(cout, h, w, true));
        var gw = empty_strided([cout, cin, 3, 3], TensorLayout.DenseStrides(cin, 3, 3, true), dtype: float32, device: x.device);
        var (blocks, rowsPerBlock) = Grid(n, h, module.Multiprocessors);
        if (blocks == 0) return gw.zero_().MoveToOuterDisposeScope();
        long k = 9 * cin * cout;
        var partial = empty(blocks * k, dtype: float32, device: x.device);
        module.LaunchOn(entries[((int)cin, (int)cout)], (uint)blocks, Block, 0,
            Pointer(x), Pointer(g), Pointer(partial), (int)n, (int)h, (int)w, rowsPerBlock);
        merge.Sum(partial, blocks, k, gw);
        return gw.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// (blocks, image rows per block) over runs of whole rows: about eight blocks per multiprocessor (six or seven fit
    /// its shared memory at once), so that many warps hide each other's memory latency, while each block's lanes still
    /// add a few rows of pixels before their sums are written.
    /// </summary>
    internal static (int Blocks, int RowsPerBlock) Grid(long n, long h, int multiprocessors)
    {
        long rows = n * h;
        if (rows == 0) return (0, 1);
        long target = 8L * Math.Max(1, multiprocessors);
        long rowsPerBlock = (rows + target - 1) / target;
        return ((int)((rows + rowsPerBlock - 1) / rowsPerBlock), (int)rowsPerBlock);
    }
}
