using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// Depthwise 3 × 3 convolution (groups = C, stride 1, padding 1, no bias) of a float32 channels-last map, forward,
/// input gradient and weight gradient (Native/Kernels/depthwise_conv.cu): the math of
/// <c>F.conv2d(x, w, padding: 1, groups: C)</c> and its autograd gradients. The weight gradient is deterministic: per-block
/// partial sums, then a merge in a fixed order, no atomics.
/// </summary>
/// <remarks>
/// cuDNN's grouped weight-gradient kernel spends several times the memory traffic's time on these shapes; the three
/// kernels here read each map about once (see the source's header for the design).
/// </remarks>
public sealed class DepthwiseConvKernels
{
    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions =
        ["dwconv3x3_forward", "dwconv3x3_backward_input", "dwconv3x3_backward_weight_partial"];

    /// <summary>Output rows per thread item, a column strip (DWCONV3X3_ROWS in the source).</summary>
    internal const int Rows = 4;

    /// <summary>Channels per thread where C % 4 == 0 and the maps' addresses allow one 16-byte load.</summary>
    internal const int Vector = 4;

    /// <summary>Threads per block of the forward and input-gradient stencils (one item each).</summary>
    internal const int StencilBlock = 128;

    /// <summary>Most threads per weight-gradient block (DWCONV3X3_WGRAD_THREADS: the size of its shared-memory lanes).</summary>
    internal const int WeightThreads = 256;

    /// <summary>
    /// Blocks of the weight gradient's first stage per multiprocessor when the map has enough strips: two, what the
    /// registers (9·4 sums plus a strip's loads per thread) let one hold at once.
    /// </summary>
    internal const long BlocksPerMultiprocessor = 2;

    /// <summary>The first stage's most blocks on an H200 (132 multiprocessors), the geometry the tests take.</summary>
    internal const long TargetBlocks = BlocksPerMultiprocessor * 132;

    /// <summary>A stencil launch: channels per thread, a one-dimensional grid of <see cref="Block"/> threads, a thread per (strip, channel unit).</summary>
    internal readonly record struct StencilLaunch(int Vec, uint Blocks, int Block);

    /// <summary>
    /// The weight gradient's launch: channels per thread; stage 1's grid (channel tiles, groups of strips: Grid.Y
    /// partials per weight) and block (channel units, lanes); stage 2's blocks of 32 weights and lanes per block.
    /// </summary>
    internal readonly record struct WeightLaunch(int Vec, (uint X, uint Y) Grid, (int X, int Y) Block, uint MergeBlocks, int MergeLanes);

    readonly CudaKernelModule module;
    readonly IntPtr forward, backwardInput, weightPartial;
    readonly PartialSums merge;

    public DepthwiseConvKernels(CudaKernelModule module)
    {
        this.module = module;
        (forward, backwardInput) = (module.Function("dwconv3x3_forward"), module.Function("dwconv3x3_backward_input"));
        (weightPartial, merge) = (module.Function("dwconv3x3_backward_weight_partial"), new PartialSums(module));
    }

    /// <summary>y = the depthwise 3 × 3 convolution of x (channels-last, as x) by <paramref name="weight"/> (C, 1, 3, 3).</summary>
    public Tensor Forward(Tensor x, Tensor weight) => Stencil(forward, x, weight);

    /// <summary>dL/dx (channels-last, as x) from dL/dy = <paramref name="grad"/> (x's shape, any strides).</summary>
    public Tensor BackwardInput(Tensor grad, Tensor weight)
    {
        // dL/dy may come in any strides: brought to the channels-last layout the kernel indexes.
        using var scope = NewDisposeScope();
        var g = grad.dim() == 4 ? TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(grad.shape[1], grad.shape[2], grad.shape[3], true)) : grad;
        return Stencil(backwardInput, g, weight).MoveToOuterDisposeScope();
    }

    /// <summary>dL/dw, (C, 1, 3, 3) float32 contiguous, from x and dL/dy = <paramref name="grad"/> (x's shape, any strides).</summary>
    public Tensor BackwardWeight(Tensor x, Tensor grad)
    {
        var (n, c, h, w) = Shape(x);
        if (!grad.shape.SequenceEqual(x.shape) || grad.dtype != ScalarType.Float32)
            throw new ArgumentException("depthwise conv kernels: the gradient must be float32 with x's shape");
        CheckOnDevice(x, grad, "gradient");
        using var scope = NewDisposeScope();
        var g = TensorLayout.WithStrides(grad, x.stride());
        var launch = Weight(x, Aligned(x, g), BlocksPerMultiprocessor * module.Multiprocessors);
        var partial = empty(launch.Grid.Y * c * 9, dtype: float32, device: x.device);
        var gw = empty([c, 1, 3, 3], dtype: float32, device: x.device);
        module.LaunchOn(weightPartial, launch.Grid, launch.Block, 0, Pointer(x), Pointer(g), Pointer(partial), (int)n, (int)h, (int)w, (int)c, launch.Vec);
        merge.Sum(partial, launch.Grid.Y, 9 * c, gw);
        return gw.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The forward or the input gradient (one stencil kernel, the taps turned by 180° for the gradient) of the
    /// channels-last <paramref name="input"/>: a new map in its layout.
    /// </summary>
    Tensor Stencil(IntPtr function, Tensor input, Tensor weight)
    {
        var (n, c, h, w) = Shape(input);
        CheckWeight(weight, c);
        CheckOnDevice(input, weight, "weight");
        using var scope = NewDisposeScope();
        var wt = weight.is_contiguous() ? weight : weight.contiguous();
        var y = empty_strided(input.shape, input.stride(), dtype: float32, device: input.device);
        var launch = Stencil(input, Aligned(input, y));
        module.LaunchOn(function, (launch.Blocks, 1), (launch.Block, 1), 0, Pointer(input), Pointer(wt), Pointer(y), (int)n, (int)h, (int)w, (int)c,
            launch.Vec);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// (N, C, H, W) of x, which must be a float32 4-D map laid out as dense NHWC (<see cref="TensorLayout.IsChannelsLastDense"/>:
    /// also where NCHW and NHWC coincide, one channel or 1 × 1 images, which <see cref="TensorLayout.DenseChannelsLast"/>
    /// calls NCHW), no dimension empty, within the kernels' 32-bit counts (threads of the stencils, the 9·C weights).
    /// </summary>
    internal static (long N, long C, long H, long W) Shape(Tensor x)
    {
        if (x.dtype != ScalarType.Float32 || x.dim() != 4 || !TensorLayout.IsChannelsLastDense(x) || x.numel() == 0)
            throw new ArgumentException("depthwise conv kernels: x must be a non-empty float32 (N, C, H, W) tensor, dense channels-last");
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        if (Items(n, h, w) * c > int.MaxValue || 9 * c > int.MaxValue)
            throw new ArgumentException($"depthwise conv kernels: ({n}, {c}, {h}, {w}) exceeds the kernels' 32-bit indexing");
        return (n, c, h, w);
    }

    /// <summary>The weight must be float32 (C, 1, 3, 3) for x's C channels.</summary>
    internal static void CheckWeight(Tensor weight, long c)
    {
        if (weight.dtype != ScalarType.Float32 || !weight.shape.SequenceEqual(new[] { c, 1L, 3L, 3L }))
            throw new ArgumentException($"depthwise conv kernels: the weight must be a float32 ({c}, 1, 3, 3) tensor");
    }

    /// <summary>x on a CUDA device, and <paramref name="other"/> on the same one.</summary>
    static void CheckOnDevice(Tensor x, Tensor other, string name)
    {
        if (x.device_type != DeviceType.CUDA || other.device_type != DeviceType.CUDA || other.device_index != x.device_index)
            throw new ArgumentException($"depthwise conv kernels: x and the {name} must be on one CUDA device");
    }

    /// <summary>Whether every map's first value lies on a 16-byte boundary (the vector loads' alignment).</summary>
    static bool Aligned(params Tensor[] maps) => maps.All(t => Pointer(t).ToInt64() % (Vector * sizeof(float)) == 0);

    /// <summary>Column strips (the kernels' items) of an N × H × W map: one per image, column and run of <see cref="Rows"/> rows (the last run may be short).</summary>
    static long Items(long n, long h, long w) => n * ((h + Rows - 1) / Rows) * w;

    /// <summary>Channels per thread: <see cref="Vector"/> where C allows it and the maps are <paramref name="aligned"/>.</summary>
    static int Vec(long c, bool aligned) => aligned && c % Vector == 0 ? Vector : 1;

    /// <summary>
    /// The forward's and the input gradient's launch for x (maps <paramref name="aligned"/> on 16 bytes or not): a thread
    /// per (strip, unit of Vec channels), in blocks of <see cref="StencilBlock"/>.
    /// </summary>
    internal static StencilLaunch Stencil(Tensor x, bool aligned)
    {
        var (n, c, h, w) = Shape(x);
        int vec = Vec(c, aligned);
        long threads = Items(n, h, w) * (c / vec);
        return new(vec, (uint)((threads + StencilBlock - 1) / StencilBlock), StencilBlock);
    }

    /// <summary>
    /// The weight gradient's launch for x. Stage 1: block.x = the channel units per pixel (C / Vec) where they fit in
    /// <see cref="WeightThreads"/>, else that many with grid.x tiles of them; block.y = the lanes that fill the block;
    /// grid.y = the groups of strips: one strip per thread where that takes at most <paramref name="targetBlocks"/>
    /// blocks in all, else that many, each thread then summing several strips. Stage 2: <see cref="PartialSums"/> over
    /// the groups' rows of 9·C partials.
    /// </summary>
    internal static WeightLaunch Weight(Tensor x, bool aligned, long targetBlocks = TargetBlocks)
    {
        var (n, c, h, w) = Shape(x);
        int vec = Vec(c, aligned);
        long units = c / vec;
        int tx = (int)Math.Min(units, WeightThreads), ty = WeightThreads / tx;
        long tiles = (units + tx - 1) / tx;
        long groups = Math.Clamp((Items(n, h, w) + ty - 1) / ty, 1, Math.Max(1, targetBlocks / tiles));
        if (tiles > int.MaxValue || groups > 65535)
            throw new ArgumentException($"depthwise conv kernels: {c} channels exceed the launch grid");
        var (mergeBlocks, lanes) = PartialSums.Geometry(groups, 9 * c);
        return new(vec, ((uint)tiles, (uint)groups), (tx, ty), mergeBlocks, lanes);
    }
}
