using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// The KAN layers' float32 products on our kernels: an entry per tile and operand layout on the CUDA cores
/// (Native/Kernels/kan_product.cu, <see cref="KanProductTiles.All"/>) and on the tensor cores at float32 accuracy
/// (kan_product_tf32x3.cu, <see cref="KanProductTiles.Tf32x3"/>), and the fixed-order merge of split products (<see cref="PartialSums"/>).
/// <c>ukan selftest --device cuda</c> compares them with float64 products.
/// </summary>
public sealed class KanProductKernels : IKanProductKernels
{
    /// <summary>The layouts compiled, in BLAS's letters for row-major c = op(a) · op(b) (n: row-major, t: transposed).</summary>
    static readonly string[] Layouts = ["nt", "tn", "nn"];

    /// <summary>
    /// The kernels of dL/dx straight from dL/dy, 1 + K = 9 features per input: on the CUDA cores (kan_product.cu) and with
    /// the product on the tensor cores at float32 accuracy (kan_product_tf32x3.cu).
    /// </summary>
    const string InputGradEntry = "kan_product_input_grad_9", InputGradTf32x3Entry = "kan_product_input_grad_tf32x3_9";

    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static string[] Functions =>
        [.. KanProductTiles.All.Concat(KanProductTiles.Tf32x3).SelectMany(t => Layouts.Select(l => Entry(t, l))), InputGradEntry, InputGradTf32x3Entry];

    static string Entry(KanProductTile tile, string layout) => $"kan_product_{(tile.Tf32x3 ? "tf32x3_" : "")}{tile.Rows}x{tile.Columns}_{layout}";

    /// <summary>
    /// The rings of shared buffers of kan_product_tf32x3.cu: steps of the reduction in flight and their depth, for the
    /// product tiles (KAN_TC_STAGES, KAN_TC_STEP; <see cref="KanProductTile.Step"/>) and for the input-gradient kernel
    /// (KAN_TC_GRAD_STAGES, KAN_TC_GRAD_STEP).
    /// </summary>
    internal const int Tf32x3Stages = 4, Tf32x3Depth = 32, InputGradStages = 3, InputGradDepth = 16;

    /// <summary>
    /// Dynamic shared memory of a tensor-core tile in a layout: the ring of both operands' tiles (<see cref="Tf32x3Ring"/>).
    /// </summary>
    internal static int Tf32x3SharedBytes(KanProductTile tile, string layout) =>
        // nt: a and b (= Wᵀ) both along k; tn: both along their rows; nn: a along k, b along its rows.
        Tf32x3Ring(tile.Rows, layout[0] == 'n', tile.Columns, layout[1] == 't', Tf32x3Depth, Tf32x3Stages);

    /// <summary>
    /// The bytes of a ring of <paramref name="stages"/> buffers holding an A tile of <paramref name="aRows"/> rows and a
    /// B tile of <paramref name="bRows"/> for steps of <paramref name="depth"/> (kan_product_tf32x3.cu's kan_tc_operand),
    /// each in its global order: along the reduction R × (depth + 4) floats, along the rows depth × (R + 8).
    /// </summary>
    static int Tf32x3Ring(int aRows, bool aAlongK, int bRows, bool bAlongK, int depth, int stages)
    {
        int Floats(int rows, bool alongK) => alongK ? rows * (depth + 4) : depth * (rows + 8);
        return stages * (Floats(aRows, aAlongK) + Floats(bRows, bAlongK)) * sizeof(float);
    }

    readonly CudaKernelModule module;
    readonly PartialSums merge;
    readonly Dictionary<string, IntPtr> entries;

    public KanProductKernels(CudaKernelModule module) =>
        (this.module, merge, entries) = (module, new PartialSums(module), Functions.ToDictionary(f => f, module.Function));

    public bool Tf32TensorCores => module.Tf32TensorCores;

    /// <summary>Tokens (rows) and inputs per block of the input-gradient kernels, and their threads.</summary>
    internal const int InputGradRows = 64, InputGradInputs = 16, InputGradThreads = 128;

    /// <summary>
    /// Dynamic shared memory of the tensor-core input-gradient kernel: the ring of dL/dy's tiles of 64 tokens (along the
    /// reduction) and W's of 16 inputs' 9 columns (along its rows).
    /// </summary>
    internal static readonly int InputGradTf32x3SharedBytes = Tf32x3Ring(InputGradRows, true, InputGradInputs * 9, false, InputGradDepth, InputGradStages);

    /// <summary>The entry and dynamic shared memory of the input-gradient kernel on the tensor cores or on the CUDA cores.</summary>
    (IntPtr Entry, int Shared) InputGradKernel(bool tensorCores) =>
        tensorCores ? (entries[InputGradTf32x3Entry], InputGradTf32x3SharedBytes) : (entries[InputGradEntry], 0);

    public bool KanInputGradSupports(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots, bool tensorCores)
    {
        if (knots.BasisCount != 8 || gradOutput.dim() != 2 || weight.dim() != 2 || x.dim() != 2
            || (tensorCores && (!module.Tf32TensorCores || InputGradTf32x3SharedBytes > module.SharedOptIn))) return false;
        long m = x.shape[0], inputs = x.shape[1], outputs = weight.shape[0];
        var tensors = new[] { gradOutput, weight, x };
        return tensors.All(t => t.dtype == ScalarType.Float32 && t.device_type == DeviceType.CUDA && t.device_index == module.Device && t.is_contiguous())
            && gradOutput.shape[0] == m && gradOutput.shape[1] == outputs && weight.shape[1] == inputs * 9
            && m > 0 && inputs % InputGradInputs == 0 && outputs % (tensorCores ? InputGradDepth : 8) == 0 && outputs > 0 && m * inputs * 9 <= int.MaxValue
            && (Pointer(gradOutput) | Pointer(weight)) % 16 == 0 && FillsTheGpu(m, inputs, tensorCores);
    }

    /// <summary>
    /// Whether the input-gradient kernel's grid fills the GPU at least once (its blocks per multiprocessor times the
    /// multiprocessors): on an H200 at 256², a 128-block grid (the 256-channel layer, 512 tokens) took 39 µs against
    /// 31 for cuBLAS's product and the features' backward kernel, 320 blocks (160 channels, 2,048 tokens) the same 39,
    /// 1,024 blocks (128 channels, 8,192 tokens) 86 against 94 (docs/results.md §2r). Smaller layers take the two steps.
    /// </summary>
    bool FillsTheGpu(long m, long inputs, bool tensorCores)
    {
        var (entry, shared) = InputGradKernel(tensorCores);
        module.AllowSharedBytes(entry, shared);
        return InputGridX(m, inputs) >= (long)module.ResidentBlocks(entry, InputGradThreads, shared) * module.Multiprocessors;
    }

    public Tensor KanInputGrad(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots, bool tensorCores)
    {
        if (!KanInputGradSupports(gradOutput, weight, x, knots, tensorCores))
            throw new ArgumentException("KAN product kernels: dL/dx takes contiguous float32 dL/dy (rows × out), W (out × 9·in) and x (rows × in), in a multiple of 16, out of 8 (16 on the tensor cores)");
        long m = x.shape[0], inputs = x.shape[1];
        var gx = empty_like(x);
        var (entry, shared) = InputGradKernel(tensorCores);
        module.LaunchOn(entry, InputGridX(m, inputs), InputGradThreads, shared, Pointer(gradOutput), (int)weight.shape[0],
            Pointer(weight), Pointer(x), Pointer(gx), (int)m, (int)inputs, (float)knots.First, (float)(1.0 / knots.Step));
        return gx;
    }

    /// <summary>The input-gradient kernel's grid: a block per 64 tokens and 16 inputs.</summary>
    internal static uint InputGridX(long m, long inputs) => (uint)((m + InputGradRows - 1) / InputGradRows * (inputs / InputGradInputs));

    /// <summary>
    /// The layout of a · b and the leading dimensions: a row-major (stride (lda, 1)) is n, transposed (stride (1, lda)) t;
    /// likewise b. Null where the kernels have no entry: both transposed, or neither stride 1.
    /// </summary>
    internal static (string Layout, long Lda, long Ldb)? Layout(Tensor a, Tensor b)
    {
        // A size-1 dimension may carry any stride; the products here have none.
        var (la, lb) = (SplitReduction.Letter(a), SplitReduction.Letter(b));
        if (la == 's' || lb == 's' || (la, lb) == ('t', 't')) return null;
        return ($"{la}{lb}", la == 'n' ? a.stride(0) : a.stride(1), lb == 'n' ? b.stride(0) : b.stride(1));
    }

    /// <summary>
    /// The depth of each of <paramref name="splits"/> slices of a reduction of <paramref name="k"/> (a multiple of
    /// <paramref name="step"/>, the kernel's: <see cref="KanProductTile.Step"/>): K / S rounded up to the step; the last
    /// slice takes what is left.
    /// </summary>
    internal static long Slice(long k, int splits, int step = 8) => (k / step + splits - 1) / splits * step;

    /// <summary>The launch's grid.x: the tiles of an M × N product (grid.y is the number of slices).</summary>
    internal static uint Tiles(long m, long n, KanProductTile tile) =>
        (uint)((m + tile.Rows - 1) / tile.Rows * ((n + tile.Columns - 1) / tile.Columns));

    public bool KanProductSupports(Tensor a, Tensor b, KanProductTile tile, int splits)
    {
        if ((tile.Tf32x3 && !module.Tf32TensorCores) || a.dtype != ScalarType.Float32 || b.dtype != ScalarType.Float32 || a.dim() != 2 || b.dim() != 2 || a.device_type != DeviceType.CUDA
            || b.device_type != DeviceType.CUDA || b.device_index != a.device_index || a.device_index != module.Device || a.shape[1] != b.shape[0] || splits < 1)
            return false;
        if (Layout(a, b) is not var (layout, lda, ldb) || (tile.Tf32x3 && Tf32x3SharedBytes(tile, layout) > module.SharedOptIn)) return false;
        long m = a.shape[0], k = a.shape[1], n = b.shape[1];
        return m > 0 && n > 0 && k > 0 && m % 4 == 0 && n % 4 == 0 && lda % 4 == 0 && ldb % 4 == 0 && k % tile.Step == 0
            && (splits - 1) * Slice(k, splits, tile.Step) < k && m * n * splits <= int.MaxValue && m <= int.MaxValue / 2 && (Pointer(a) | Pointer(b)) % 16 == 0;
    }

    public Tensor SumSplits(Tensor partials)
    {
        if (partials.dim() != 3 || partials.dtype != ScalarType.Float32 || !partials.is_contiguous() || partials.device_type != DeviceType.CUDA)
            throw new ArgumentException("KAN product kernels: the split products to add must be a contiguous float32 (S, M, N) CUDA tensor");
        long s = partials.shape[0], m = partials.shape[1], n = partials.shape[2];
        var c = empty(m, n, dtype: float32, device: partials.device);
        if (m * n > 0) merge.Sum(partials, s, m * n, c);
        return c;
    }

    public Tensor KanProduct(Tensor a, Tensor b, KanProductTile tile, int splits)
    {
        if (!KanProductSupports(a, b, tile, splits) || !(tile.Tf32x3 ? KanProductTiles.Tf32x3 : KanProductTiles.All).Contains(tile))
            throw new ArgumentException($"KAN product kernels: a {string.Join('×', a.shape)} · b {string.Join('×', b.shape)} in {splits} is not a product they take");
        var (layout, lda, ldb) = Layout(a, b)!.Value;
        long m = a.shape[0], k = a.shape[1], n = b.shape[1];
        var target = splits > 1 ? empty(splits, m, n, dtype: float32, device: a.device) : empty(m, n, dtype: float32, device: a.device);
        var entry = entries[Entry(tile, layout)];
        int shared = tile.Tf32x3 ? Tf32x3SharedBytes(tile, layout) : 0;
        module.AllowSharedBytes(entry, shared);
        module.LaunchOn(entry, (Tiles(m, n, tile), (uint)splits), (tile.Threads, 1), shared,
            Pointer(a), lda, Pointer(b), ldb, Pointer(target), (int)m, (int)n, (int)k, (int)Slice(k, splits, tile.Step));
        if (splits == 1) return target;
        using (target) return SumSplits(target);
    }
}
