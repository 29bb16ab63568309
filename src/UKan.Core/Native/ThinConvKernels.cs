using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// 3 × 3 convolutions whose input has 1 to 4 channels (a U-Net's first layer, on the images) over float32 channels-last
/// maps (Native/Kernels/thin_conv.cu): the forward, and the weight gradient as per-block partial sums then the
/// fixed-order merge of <see cref="PartialSums"/>, in float32 on the CUDA cores. cuDNN runs these thin shapes in poor
/// kernels (layout conversions and a generic weight-gradient kernel, several times slower than reading the maps); the
/// input gradient, which a first layer does not need, stays with PyTorch. The math is
/// <see cref="FusedConv3x3.Torch"/>'s; <c>ukan selftest --device cuda</c> compares the two.
/// </summary>
public sealed class ThinConvKernels
{
    /// <summary>The (input, output) channels with kernels: 1 to 4 in (gray, two-channel, RGB, RGBA images), 8, 16 or 32 out.</summary>
    public static readonly IReadOnlyList<(int In, int Out)> Shapes =
        [.. from i in new[] { 1, 2, 3, 4 } from o in new[] { 8, 16, 32 } select (i, o)];

    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions = [.. Shapes.SelectMany(s => new[] { Name("forward", s), Name("weight_partial", s) })];

    static string Name(string kernel, (int In, int Out) s) => $"conv3x3_thin_{kernel}_{s.In}_{s.Out}";

    /// <summary>Threads per block (thin_conv.cu's THIN_THREADS): the output channels times the pixel lanes.</summary>
    internal const int Block = 256;

    const string Kernels = "thin convolution kernels";

    readonly CudaKernelModule module;
    readonly PartialSums merge;
    readonly IReadOnlyDictionary<(int In, int Out), (IntPtr Forward, IntPtr WeightPartial)> entries;

    public ThinConvKernels(CudaKernelModule module) =>
        (this.module, merge, entries) = (module, new PartialSums(module),
            Shapes.ToDictionary(s => s, s => (module.Function(Name("forward", s)), module.Function(Name("weight_partial", s)))));

    /// <summary>Whether the kernels take a layer of <paramref name="inChannels"/> → <paramref name="outChannels"/> (one group).</summary>
    public static bool Supports(long inChannels, long outChannels) => Shapes.Contains(((int)inChannels, (int)outChannels));

    /// <summary>conv2d(x, w, b, stride 1, padding 1) for x (N, Cin, H, W) float32 dense channels-last; the result is channels-last.</summary>
    public Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        var (n, cin, h, w) = Conv3x3Arguments.Map(x, Kernels, "x");
        long cout = weight.shape[0];
        Conv3x3Arguments.Bias(bias, cout, Kernels);
        using var scope = NewDisposeScope();
        var wt = Conv3x3Arguments.Weight(weight, cout, cin, Supports(cin, cout), Kernels);
        var y = empty_strided([n, cout, h, w], TensorLayout.DenseStrides(cout, h, w, true), dtype: float32, device: x.device);
        if (y.numel() > 0)
            module.LaunchOn(entries[((int)cin, (int)cout)].Forward, ForwardGrid(n, h, w, module.Multiprocessors), Block, 0,
                Pointer(x), Pointer(wt), Pointer(bias?.contiguous()), Pointer(y), (int)n, (int)h, (int)w);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>dL/dw (Cout, Cin, 3, 3), laid out channels-last as the parameter is, from x (float32, dense channels-last) and dL/dy (any strides).</summary>
    public Tensor BackwardWeight(Tensor x, Tensor grad)
    {
        var (n, cin, h, w) = Conv3x3Arguments.Map(x, Kernels, "x");
        long cout = grad.shape[1];
        if (!Supports(cin, cout)) throw new ArgumentException($"{Kernels}: no kernels for {cin} → {cout} channels");
        using var scope = NewDisposeScope();
        var g = TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(cout, h, w, true));
        var gw = empty_strided([cout, cin, 3, 3], TensorLayout.DenseStrides(cin, 3, 3, true), dtype: float32, device: x.device);
        var (blocks, rowsPerBlock) = Grid(n, h, module.Multiprocessors);
        if (blocks == 0) return gw.zero_().MoveToOuterDisposeScope();
        long k = 9 * cin * cout;
        var partial = empty(blocks * k, dtype: float32, device: x.device);
        module.LaunchOn(entries[((int)cin, (int)cout)].WeightPartial, (uint)blocks, Block, 0,
            Pointer(x), Pointer(g), Pointer(partial), (int)n, (int)h, (int)w, rowsPerBlock);
        merge.Sum(partial, blocks, k, gw);
        return gw.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Blocks of the forward: one per (image row, chunk of 128 columns), at most eight per multiprocessor (the blocks
    /// then take further items in turn, loading their weights once).
    /// </summary>
    internal static uint ForwardGrid(long n, long h, long w, int multiprocessors) =>
        (uint)Math.Min(n * h * ((w + Chunk - 1) / Chunk), 8L * Math.Max(1, multiprocessors));

    /// <summary>Columns per chunk (thin_conv.cu's THIN_CHUNK).</summary>
    internal const int Chunk = 128;

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
