using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// 3 × 3 convolutions with few channels over float32 channels-last maps (Native/Kernels/small_conv.cu): forward, input
/// gradient and weight gradient of the layer shapes in <see cref="Shapes"/>, as implicit GEMMs on the tensor cores in
/// TF32 (what PyTorch's default lets cuDNN use for convolutions), where cuDNN's kernels for these thin shapes run far
/// below the GPU's speed. The math is that of <see cref="FusedConv3x3.Torch"/> on TF32-rounded inputs; <c>ukan
/// selftest --device cuda</c> compares the two.
/// </summary>
public sealed class SmallConvKernels
{
    /// <summary>
    /// The (input, output) channels of the layers with kernels: 8, 16 or 32 each (the mma tiles take 8 channels at a
    /// time), which covers U-KAN's paper model's first two stages but the images' 3 channels (16 → 16, 16 → 32, 32 → 32,
    /// 32 → 16) and some of the tiny model's (8 → 8), which the GPU self-test trains.
    /// </summary>
    public static readonly IReadOnlyList<(int In, int Out)> Shapes =
        [.. from i in new[] { 8, 16, 32 } from o in new[] { 8, 16, 32 } select (i, o)];

    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions =
        [.. Shapes.SelectMany(s => new[] { Name("forward", s), Name("forward_stats", s), Name("input_grad", s), Name("weight_partial", s), Name("weight_rows", s) })];

    static string Name(string kernel, (int In, int Out) s) => $"conv3x3_{kernel}_{s.In}_{s.Out}";

    /// <summary>
    /// Threads per block of the forward and input-gradient kernels: eight warps, which share the block's weight layout
    /// (on an H200 the 256² step took 4.84–4.85 ms with eight, 4.94–4.95 with four: docs/runs/tapshare-h200);
    /// <c>UKAN_CONV3X3_FORWARD_WARPS</c>, 1 to 16, overrides it for tuning (more would pass the registers a block may hold).
    /// </summary>
    internal static readonly int ForwardBlock = 32 * (Tuning("UKAN_CONV3X3_FORWARD_WARPS") is int warps and <= 16 ? warps : 8);

    /// <summary>Pixels of one image row per warp in the forward and input-gradient kernels (two m16 tiles).</summary>
    internal const int WarpPixels = 32;

    /// <summary>Threads per block of the weight gradient: a warp per tap.</summary>
    internal const int WeightBlock = 9 * 32;

    /// <summary>Set to <c>off</c> to run every weight gradient with a warp per tap (a comparison).</summary>
    public const string RowWarpsVariable = "UKAN_CONV3X3_ROW_WARPS";

    /// <summary>
    /// Threads per block of the weight gradient of <paramref name="inChannels"/> → <paramref name="outChannels"/> with
    /// warps per kernel row, whose three taps share the warps' loads, or 0 for a warp per tap (<see cref="WeightBlock"/>):
    /// a warp per kernel row where its accumulators (3 taps of COUT × CIN, 48 registers at most a lane) leave room, two
    /// (each half of the output channels) for 32 → 32, the kernel's SPLIT.
    /// </summary>
    internal static int RowBlock(long inChannels, long outChannels)
    {
        if (EnvironmentSwitch.IsOffIn(RowWarpsVariable)) return 0;
        long tiles = 3 * ((outChannels + 15) / 16) * (inChannels / 8);
        return tiles <= 12 ? 3 * 32 : tiles <= 24 && (outChannels + 15) / 16 % 2 == 0 ? 6 * 32 : 0;
    }

    readonly CudaKernelModule module;
    readonly PartialSums merge;
    /// <summary>Each shape's entries, looked up once (not by name at every launch).</summary>
    readonly IReadOnlyDictionary<(int In, int Out), Entry> entries;

    readonly record struct Entry(IntPtr Forward, IntPtr ForwardStats, IntPtr InputGrad, IntPtr WeightPartial, IntPtr WeightRows);

    public SmallConvKernels(CudaKernelModule module) =>
        (this.module, merge, entries) = (module, new PartialSums(module), Shapes.ToDictionary(s => s,
            s => new Entry(module.Function(Name("forward", s)), module.Function(Name("forward_stats", s)), module.Function(Name("input_grad", s)),
                module.Function(Name("weight_partial", s)), module.Function(Name("weight_rows", s)))));

    Entry Entries(long inChannels, long outChannels) => entries[((int)inChannels, (int)outChannels)];

    /// <summary>Whether the kernels take a layer of <paramref name="inChannels"/> → <paramref name="outChannels"/>.</summary>
    public static bool Supports(long inChannels, long outChannels) => Shapes.Contains(((int)inChannels, (int)outChannels));

    /// <summary>conv2d(x, w, b, stride 1, padding 1) for x (N, Cin, H, W) dense channels-last; the result is channels-last.</summary>
    public Tensor Forward(Tensor x, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        var (n, cin, cout, h, w, wt, y) = Output(ref x, weight);
        Conv3x3Arguments.Bias(bias, cout, Kernels);
        if (y.numel() > 0)
        {
            var forward = Entries(cin, cout).Forward;
            module.LaunchOn(forward, ForwardGrid(n, h, w, module.Multiprocessors, Resident(forward, ForwardBlock)), ForwardBlock, 0,
                Pointer(x), Pointer(wt), Pointer(bias?.contiguous()), Pointer(y), (int)n, (int)h, (int)w);
        }
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// conv2d(x, w) (no bias) as <see cref="Forward"/>, with the batch statistics of the result for the batch norm that
    /// follows: (count, mean, M2) per block and output channel, G × 3 × Cout floats (G = the grid's blocks), the layout of
    /// the batch norm kernels' own partial statistics (<see cref="BatchNormReluKernels"/>), which they then merge instead of
    /// reading y again.
    /// </summary>
    public (Tensor Y, Tensor Statistics) ForwardWithStatistics(Tensor x, Tensor weight)
    {
        using var scope = NewDisposeScope();
        var (n, cin, cout, h, w, wt, y) = Output(ref x, weight);
        var function = Entries(cin, cout).ForwardStats;
        uint blocks = y.numel() > 0 ? StatsGrid(n, h, w, module.Multiprocessors, Resident(function, StatsBlock)) : 0;
        // An empty map has one group of count 0 (the batch norm's kernels refuse such a map before they read it).
        var statistics = blocks > 0 ? empty(3 * blocks * cout, dtype: float32, device: x.device) : zeros(3 * cout, dtype: float32, device: x.device);
        if (blocks > 0)
            module.LaunchOn(function, blocks, StatsBlock, 0, Pointer(x), Pointer(wt), Pointer(y), Pointer(statistics), (int)n, (int)h, (int)w);
        return (y.MoveToOuterDisposeScope(), statistics.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The forward's checked shape, its weight in the kernels' layout, x aligned (replaced where it was not) and the
    /// channels-last output to write, in the caller's dispose scope.
    /// </summary>
    static (long N, long Cin, long Cout, long H, long W, Tensor Weight, Tensor Y) Output(ref Tensor x, Tensor weight)
    {
        var (n, cin, h, w) = Check(x, "x");
        var cout = weight.shape[0];
        var wt = Weight(weight, cout, cin);
        x = Aligned(x);
        var y = empty_strided([n, cout, h, w], TensorLayout.DenseStrides(cout, h, w, true), dtype: float32, device: x.device);
        return (n, cin, cout, h, w, wt, y);
    }

    /// <summary>Threads per block of the forward with statistics: <see cref="ForwardBlock"/>, at most the 16 warps its block merge holds.</summary>
    internal static int StatsBlock => Math.Min(ForwardBlock, 16 * 32);

    /// <summary>The grid of the forward with statistics: <see cref="ForwardGrid"/> for <see cref="StatsBlock"/>.</summary>
    internal static uint StatsGrid(long n, long h, long w, int multiprocessors, int residentPerSm = int.MaxValue) =>
        ForwardGrid(n, h, w, multiprocessors, residentPerSm, StatsBlock);

    /// <summary>dL/dx (N, Cin, H, W, channels-last) from dL/dy = <paramref name="grad"/> (N, Cout, H, W, any strides) and the layer's weight.</summary>
    public Tensor BackwardInput(Tensor grad, Tensor weight)
    {
        long cout = weight.shape[0], cin = weight.shape[1];
        var (n, _, h, w) = (grad.shape[0], grad.shape[1], grad.shape[2], grad.shape[3]);
        using var scope = NewDisposeScope();
        var g = Aligned(TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(cout, h, w, true)));
        Check(g, "dL/dy");
        var wt = Weight(weight, cout, cin);
        var gx = empty_strided([n, cin, h, w], TensorLayout.DenseStrides(cin, h, w, true), dtype: float32, device: grad.device);
        if (gx.numel() > 0)
        {
            var inputGrad = Entries(cin, cout).InputGrad;
            module.LaunchOn(inputGrad, ForwardGrid(n, h, w, module.Multiprocessors, Resident(inputGrad, ForwardBlock)), ForwardBlock, 0,
                Pointer(g), Pointer(wt), Pointer(gx), (int)n, (int)h, (int)w);
        }
        return gx.MoveToOuterDisposeScope();
    }

    /// <summary>dL/dw (Cout, Cin, 3, 3), laid out channels-last as the parameter is, from x and dL/dy (any strides).</summary>
    public Tensor BackwardWeight(Tensor x, Tensor grad)
    {
        var (n, cin, h, w) = Check(x, "x");
        long cout = grad.shape[1];
        if (!Supports(cin, cout)) throw new ArgumentException($"{Kernels}: no kernels for {cin} → {cout} channels");
        using var scope = NewDisposeScope();
        var g = Aligned(TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(cout, h, w, true)));
        x = Aligned(x);
        var gw = empty_strided([cout, cin, 3, 3], TensorLayout.DenseStrides(cin, 3, 3, true), dtype: float32, device: x.device);
        int rowBlock = RowBlock(cin, cout);
        bool byRows = rowBlock > 0;
        var (function, block) = byRows ? (Entries(cin, cout).WeightRows, rowBlock) : (Entries(cin, cout).WeightPartial, WeightBlock);
        var (blocks, rowsPerBlock) = WeightGrid(n, h, cin, cout, module.Multiprocessors, Resident(function, block), byRows ? block : 0);
        if (blocks == 0) return gw.zero_().MoveToOuterDisposeScope();
        long k = 9 * cin * cout;
        var partial = empty(blocks * k, dtype: float32, device: x.device);
        module.LaunchOn(function, (uint)blocks, block, 0,
            Pointer(x), Pointer(g), Pointer(partial), (int)n, (int)h, (int)w, rowsPerBlock);
        merge.Sum(partial, blocks, k, gw);
        return gw.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <paramref name="t"/> itself when its first element is 16-byte aligned (the kernels read 4 channels at a time), else
    /// an aligned copy with its strides (a view starting mid-pixel; fresh allocations are always aligned).
    /// </summary>
    static Tensor Aligned(Tensor t) =>
        (Pointer(t).ToInt64() & 15) == 0 ? t : empty_strided(t.shape, t.stride(), dtype: t.dtype, device: t.device).copy_(t);

    const string Kernels = "small convolution kernels";

    static (long N, long C, long H, long W) Check(Tensor x, string what) => Conv3x3Arguments.Map(x, Kernels, what);

    /// <summary>The blocks of <paramref name="function"/> one multiprocessor holds (<see cref="CudaKernelModule.ResidentBlocks"/>).</summary>
    int Resident(IntPtr function, int block) => module.ResidentBlocks(function, block);

    static Tensor Weight(Tensor weight, long cout, long cin) => Conv3x3Arguments.Weight(weight, cout, cin, Supports(cin, cout), Kernels);

    /// <summary>
    /// Tuning only (docs/gpu.md): <c>UKAN_CONV3X3_BLOCKS_PER_SM</c> overrides the forward's and input gradient's blocks
    /// per multiprocessor (4), <c>UKAN_CONV3X3_WEIGHT_BLOCKS_PER_SM</c> the weight gradient's (6 or 2 by the weight's size).
    /// </summary>
    static readonly int ForwardBlocksPerSm = Tuning("UKAN_CONV3X3_BLOCKS_PER_SM") ?? 4;
    static readonly int? WeightBlocksPerSm = Tuning("UKAN_CONV3X3_WEIGHT_BLOCKS_PER_SM");

    static int? Tuning(string variable) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), out var v) && v is >= 1 and <= 64 ? v : null;

    /// <summary>
    /// Blocks of the forward and input-gradient kernels: enough for every warp to take one strip of <see cref="WarpPixels"/>
    /// pixels of an image row, at most four per multiprocessor (the warps then take further strips in turn, and each
    /// block lays the weight out in shared memory once; eight were slower on an H200, docs/runs/release-conv-h200), and
    /// at most <paramref name="residentPerSm"/>, the blocks a multiprocessor holds at once (one wave).
    /// </summary>
    internal static uint ForwardGrid(long n, long h, long w, int multiprocessors, int residentPerSm = int.MaxValue, int block = 0)
    {
        int warps = (block > 0 ? block : ForwardBlock) / 32;
        long strips = n * h * ((w + WarpPixels - 1) / WarpPixels);
        long perSm = Math.Min(ForwardBlocksPerSm, residentPerSm);
        long blocks = Math.Min((strips + warps - 1) / warps, perSm * Math.Max(1, multiprocessors));
        return (uint)blocks;
    }

    /// <summary>
    /// The weight gradient's launch: (blocks, image rows per block) over runs of whole rows, six blocks per
    /// multiprocessor for weights of up to 4,608 values and two for 32 → 32 (9,216): the kernel waits on loads, so more
    /// warps help, but the larger tiles take more registers and every block adds a row of partial sums for the merge
    /// to read (on an H200, four per multiprocessor made 32 → 32 slower than two, six made 16 → 16 faster than two); and
    /// at most <paramref name="residentPerSm"/>, the blocks a multiprocessor holds at once: every block takes the same
    /// rows, so blocks past one wave run a second one nearly alone (16 → 16 at 256²: 683 blocks where 660 fit).
    /// </summary>
    internal static (int Blocks, int RowsPerBlock) WeightGrid(long n, long h, long inChannels, long outChannels, int multiprocessors,
        int residentPerSm = int.MaxValue, int rowBlock = 0)
    {
        long rows = n * h;
        if (rows == 0) return (0, 1);
        // Warps per kernel row (rowBlock threads a block, RowBlock): 24 warps a multiprocessor, against 54 of the per-tap blocks.
        long defaultPerSm = rowBlock > 0 ? 24 * 32 / rowBlock : 9 * inChannels * outChannels <= 4608 ? 6L : 2L;
        long perSm = Math.Min(WeightBlocksPerSm ?? defaultPerSm, residentPerSm);
        long target = Math.Max(1, perSm * multiprocessors);
        long rowsPerBlock = (rows + target - 1) / target;
        return ((int)((rows + rowsPerBlock - 1) / rowsPerBlock), (int)rowsPerBlock);
    }
}
