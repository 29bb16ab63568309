using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// 3 × 3 convolutions with few channels over float32 channels-last maps (Native/Kernels/small_conv.cu): forward, input
/// gradient and weight gradient of the layer shapes in <see cref="Shapes"/>, in float32 on the CUDA cores, where
/// cuDNN's kernels for these thin shapes run far below the GPU's speed. The math is that of
/// <see cref="FusedConv3x3.Torch"/>; <c>ukan selftest --device cuda</c> compares the two.
/// </summary>
public sealed class SmallConvKernels
{
    /// <summary>
    /// The (input, output) channels of the layers with kernels: the first two stages of U-KAN's paper model (3 → 16,
    /// 16 → 16, 16 → 32, 32 → 32, 32 → 16), of the large one (3 → 32, 32 → 32) and of the tiny one (3 → 4, 4 → 4, 4 → 8,
    /// 8 → 8, 8 → 4), which the GPU self-test trains.
    /// </summary>
    public static readonly IReadOnlyList<(int In, int Out)> Shapes =
        [(3, 16), (3, 32), (16, 16), (16, 32), (32, 16), (32, 32), (3, 4), (4, 4), (4, 8), (8, 8), (8, 4)];

    /// <summary>Whether a layer shape has an input-gradient kernel (its input channels a multiple of 4: not the images' 3).</summary>
    public static bool HasInputGradient((int In, int Out) shape) => shape.In % 4 == 0;

    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions =
        ["conv3x3_weight_finalize", .. Shapes.SelectMany(s => (string[])[Name("forward", s), Name("weight_partial", s),
            .. HasInputGradient(s) ? [Name("input_grad", s)] : Array.Empty<string>()])];

    static string Name(string kernel, (int In, int Out) s) => $"conv3x3_{kernel}_{s.In}_{s.Out}";

    /// <summary>Threads per block of the forward and input-gradient kernels.</summary>
    internal const int ForwardBlock = 128;

    readonly CudaKernelModule module;
    readonly IntPtr finalize;

    public SmallConvKernels(CudaKernelModule module) => (this.module, finalize) = (module, module.Function("conv3x3_weight_finalize"));

    /// <summary>Whether the kernels take a layer of <paramref name="inChannels"/> → <paramref name="outChannels"/> (with an input gradient if asked).</summary>
    public static bool Supports(long inChannels, long outChannels, bool inputGradient) =>
        Shapes.Contains(((int)inChannels, (int)outChannels)) && (!inputGradient || HasInputGradient(((int)inChannels, (int)outChannels)));

    /// <summary>conv2d(x, w, b, stride 1, padding 1) for x (N, Cin, H, W) dense channels-last; the result is channels-last.</summary>
    public Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        var (n, cin, h, w) = Check(x, "x");
        var cout = weight.shape[0];
        using var scope = NewDisposeScope();
        var wt = Weight(weight, cout, cin);
        x = Aligned(x);
        if (bias is not null && (bias.dtype != ScalarType.Float32 || bias.numel() != cout))
            throw new ArgumentException("small convolution kernels: the bias must be float32 with one value per output channel");
        var y = empty_strided([n, cout, h, w], TensorLayout.DenseStrides(cout, h, w, true), dtype: float32, device: x.device);
        if (y.numel() > 0)
            module.LaunchOn(module.Function(Name("forward", ((int)cin, (int)cout))), ForwardGrid(n, h, w, cout), ForwardBlock, 0,
                Pointer(x), Pointer(wt), Pointer(bias?.contiguous()), Pointer(y), (int)n, (int)h, (int)w);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>dL/dx (N, Cin, H, W, channels-last) from dL/dy = <paramref name="grad"/> (N, Cout, H, W, any strides) and the layer's weight.</summary>
    public Tensor BackwardInput(Tensor grad, Tensor weight)
    {
        long cout = weight.shape[0], cin = weight.shape[1];
        var (n, _, h, w) = (grad.shape[0], grad.shape[1], grad.shape[2], grad.shape[3]);
        if (!HasInputGradient(((int)cin, (int)cout))) throw new ArgumentException($"small convolution kernels: no input gradient for {cin} input channels");
        using var scope = NewDisposeScope();
        var g = Aligned(TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(cout, h, w, true)));
        Check(g, "dL/dy");
        var wt = Weight(weight, cout, cin);
        var gx = empty_strided([n, cin, h, w], TensorLayout.DenseStrides(cin, h, w, true), dtype: float32, device: grad.device);
        if (gx.numel() > 0)
            module.LaunchOn(module.Function(Name("input_grad", ((int)cin, (int)cout))), ForwardGrid(n, h, w, cin), ForwardBlock, 0,
                Pointer(g), Pointer(wt), Pointer(gx), (int)n, (int)h, (int)w);
        return gx.MoveToOuterDisposeScope();
    }

    /// <summary>dL/dw (Cout, Cin, 3, 3), laid out channels-last as the parameter is, from x and dL/dy (any strides).</summary>
    public Tensor BackwardWeight(Tensor x, Tensor grad)
    {
        var (n, cin, h, w) = Check(x, "x");
        long cout = grad.shape[1];
        if (!Supports(cin, cout, false)) throw new ArgumentException($"small convolution kernels: no kernels for {cin} → {cout} channels");
        using var scope = NewDisposeScope();
        var g = Aligned(TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(cout, h, w, true)));
        x = Aligned(x);
        var gw = empty_strided([cout, cin, 3, 3], TensorLayout.DenseStrides(cin, 3, 3, true), dtype: float32, device: x.device);
        var (blocks, rowsPerBlock, threads) = WeightGrid(n, h, cin, cout, module.Multiprocessors);
        if (blocks == 0) return gw.zero_().MoveToOuterDisposeScope();
        long k = 9 * cin * cout;
        var partial = empty(blocks * k, dtype: float32, device: x.device);
        module.LaunchOn(module.Function(Name("weight_partial", ((int)cin, (int)cout))), (uint)blocks, threads, 0,
            Pointer(x), Pointer(g), Pointer(partial), (int)n, (int)h, (int)w, rowsPerBlock);
        module.LaunchOn(finalize, ((uint)((k + 31) / 32), 1), (32, 8), 0, Pointer(partial), Pointer(gw), blocks, (int)k);
        return gw.MoveToOuterDisposeScope();
    }

    static (long N, long C, long H, long W) Check(Tensor x, string what)
    {
        if (x.dtype != ScalarType.Float32 || x.dim() != 4 || !TensorLayout.IsChannelsLastDense(x))
            throw new ArgumentException($"small convolution kernels: {what} must be a float32 (N, C, H, W) tensor dense in channels-last");
        return (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    }

    /// <summary>
    /// <paramref name="t"/> itself when its first element is 16-byte aligned (the kernels read 4 channels at a time), else
    /// an aligned copy with its strides (a view starting mid-pixel; fresh allocations are always aligned).
    /// </summary>
    static Tensor Aligned(Tensor t) =>
        (Pointer(t).ToInt64() & 15) == 0 ? t : empty_strided(t.shape, t.stride(), dtype: t.dtype, device: t.device).copy_(t);

    /// <summary>The weight (Cout, Cin, 3, 3) in the kernels' order (o, kh, kw, i): itself when laid out so, else a copy.</summary>
    static Tensor Weight(Tensor weight, long cout, long cin)
    {
        if (weight.dtype != ScalarType.Float32 || !weight.shape.SequenceEqual([cout, cin, 3, 3]) || !Supports(cin, cout, false))
            throw new ArgumentException($"small convolution kernels: the weight must be float32 ({cout}, {cin}, 3, 3) of a supported shape");
        return TensorLayout.WithStrides(weight, TensorLayout.DenseStrides(cin, 3, 3, true));
    }

    /// <summary>Pixels per thread of the forward for <paramref name="outChannels"/> outputs (small_conv.cu's ConvForwardTile).</summary>
    internal static int PixelsPerThread(long outChannels) => outChannels >= 32 ? 2 : outChannels >= 16 ? 4 : 8;

    /// <summary>Blocks of the forward and input-gradient kernels: a thread per strip of pixels of one image row.</summary>
    internal static uint ForwardGrid(long n, long h, long w, long outChannels)
    {
        int px = PixelsPerThread(outChannels);
        long threads = n * h * ((w + px - 1) / px);
        long blocks = (threads + ForwardBlock - 1) / ForwardBlock;
        if (blocks > int.MaxValue) throw new ArgumentException("small convolution kernels: the map exceeds the launch grid");
        return (uint)blocks;
    }

    /// <summary>
    /// The weight gradient's launch: (blocks, image rows per block, threads per block). About two blocks per
    /// multiprocessor, each over a run of whole image rows; a block is a whole number of pixel groups of 9·Cin/CV
    /// threads (small_conv.cu's ConvWeightTile), at most 256 threads unless one group is larger.
    /// </summary>
    internal static (int Blocks, int RowsPerBlock, int Threads) WeightGrid(long n, long h, long inChannels, long outChannels, int multiprocessors)
    {
        long rows = n * h;
        int cv = inChannels % 4 != 0 ? 1 : outChannels >= 32 ? 2 : 4;
        int group = (int)(9 * inChannels / cv);
        int threads = Math.Max(1, 256 / group) * group;
        if (rows == 0) return (0, 1, threads);
        long target = Math.Max(1, 2L * multiprocessors);
        long rowsPerBlock = (rows + target - 1) / target;
        return ((int)((rows + rowsPerBlock - 1) / rowsPerBlock), (int)rowsPerBlock, threads);
    }
}
