using System.Collections.Concurrent;
using System.Diagnostics;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The float32 products of the KAN layers (y = F·Wᵀ, dW = dyᵀ·F and dF = dy·W in <see cref="KanLinearFunction"/>), each
/// run the way measured fastest for its shape (a <see cref="ProductPlan"/>): cuBLAS, or our kernels
/// (<see cref="IKanProductKernels"/>, Native/Kernels/kan_product.cu) in one of their tiles, either one optionally split
/// along the reduction: a (M × K) · b (K × N) as S products over consecutive K/S slices of the reduction, whose S
/// partial results are then summed in a fixed order. cuBLAS's own choice runs at 25–40 TFLOP/s on the smaller U-KAN
/// shapes, where M × N gives too few tiles to fill the GPU; on an H200 the weight gradient of the 160-channel stages
/// (160 × 1,440 over 2,048 tokens at 256², 8,192 at 512²) took 0.048 / 0.167 ms as one product and 0.036 / 0.123 ms
/// split in four (docs/runs/kan-products-split-k-h200), while other shapes are fastest unsplit. Which plan is fastest
/// depends on the GPU and the shape, so it is measured: the first time a shape runs outside a CUDA graph capture (the
/// warm-up steps), every candidate (cuBLAS in each S of <see cref="Splits"/> that divides K; our kernels in each tile and
/// each S of <see cref="KernelSplits"/> that leaves a slice at least <see cref="KernelSliceMin"/> deep) is timed once,
/// the three fastest then four rounds more with the single cuBLAS product (ten products at a time, the median; GPU
/// time as a replayed CUDA graph runs them, without the CPU's launch gaps, <see cref="IGpuTimer"/>), and a
/// plan other than the single cuBLAS product is kept only when it is at least 10 % faster (<see cref="Margin"/>): the
/// choice is then the same from run to run where the gain is clear, and may differ where it is near the margin. The
/// choice is kept per shape, layout and device for the process.
/// </summary>
/// <remarks>
/// Arithmetic: the same float32 products (every multiply-add a float32 fma), summed in another order (per thread of
/// a tile, S partial sums, then their sum in double), so results differ from the single cuBLAS product in the last
/// bits, as cuBLAS's own kernels differ among themselves. Not applied: on the CPU, to other dtypes (bf16 autocast),
/// under <c>ukan train --deterministic</c> (where the choice, made by timing, could differ between runs), during a
/// capture for a shape not yet timed, or with <see cref="EnvironmentVariable"/>=off (a comparison). Our tensor-core
/// tiles (3xTF32, float32's accuracy) are among the plans of products of at least <see cref="Tf32x3MinMacs"/>
/// multiply-adds (on an H200 KANLinear's forward product at 8,192 × 256 took 0.17 ms in them against 0.21-0.22 ms in
/// cuBLAS's float32, docs/results.md §2u; on the smaller U-KAN products cuBLAS won, and timing plans costs start-up
/// time); our CUDA-core tiles, and the tensor-core ones for every product, only with <see cref="KernelsVariable"/>=on.
/// </remarks>
public static class SplitReduction
{
    /// <summary>Set to <c>off</c> to run every KAN product as one cuBLAS product (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_SPLIT_REDUCTION";

    /// <summary>
    /// Set to <c>on</c> to add all our product kernels to the plans of every product, on the CUDA cores and (unless
    /// <see cref="Tf32x3Variable"/> is off) on the tensor cores (off by default: on an H200 cuBLAS was faster than our
    /// CUDA-core kernels on every U-KAN product, and timing ~100 more plans per shape made the first steps slower by
    /// seconds per image size, docs/results.md; <c>ukan bench products</c> shows all on a GPU).
    /// </summary>
    public const string KernelsVariable = "UKAN_KAN_PRODUCT_KERNELS";

    /// <summary>
    /// Set to <c>off</c> to keep our tensor-core kernels (3xTF32: float32 accuracy, Native/Kernels/kan_product_tf32x3.cu)
    /// out of use (a comparison): KANLinear's dL/dx kernel (<see cref="KanInputGradient"/>) then runs its product on the
    /// CUDA cores, and no plan has a tensor-core tile.
    /// </summary>
    public const string Tf32x3Variable = "UKAN_KAN_TF32X3";

    /// <summary>The splits tried with cuBLAS.</summary>
    public static readonly int[] Splits = [1, 2, 4, 8];

    /// <summary>The splits tried with our kernels (their slices, the last one possibly shorter, are summed by one merge kernel).</summary>
    public static readonly int[] KernelSplits = [1, 2, 3, 4, 6, 8, 12, 16];

    /// <summary>
    /// The splits of our tensor-core tiles among the default plans (<see cref="KanProductTiles.Tf32x3Default"/>; all of
    /// <see cref="KernelSplits"/> with <see cref="KernelsVariable"/>=on): on an H200 the forward products took 1, the
    /// weight gradients 8 to 16, and fewer plans to time keep the first steps short.
    /// </summary>
    public static readonly int[] Tf32x3Splits = [1, 4, 8, 12, 16];

    /// <summary>The shallowest slice of the reduction tried with our kernels: 8 of their steps.</summary>
    public const long KernelSliceMin = 64;

    /// <summary>
    /// The products (M·K·N multiply-adds) whose plans include our tensor-core tiles by default: 2³⁰, which U-KAN's
    /// 128-channel decoder block reaches at 256² (8,192 × 1,152 × 128), its three large layers at 512², and KANLinear
    /// 8,192 × 256 (4.8·10⁹). Below it cuBLAS's float32 won every U-KAN product against §2t's tiles on an H200
    /// (docs/results.md §2t; not measured against §2u's), and each plan timed lengthens the first steps.
    /// </summary>
    public const long Tf32x3MinMacs = 1L << 30;

    /// <summary>The candidates timed over all rounds after the first (besides the single cuBLAS product).</summary>
    const int Finalists = 3;

    /// <summary>How much faster than the single product a split must be to be kept: 10 %.</summary>
    public const double Margin = 0.9;

    /// <summary>Set by <see cref="Training.Determinism"/>: every product unsplit.</summary>
    public static bool Deterministic { get; set; }

    static readonly FusedSwitch Switch = new(EnvironmentVariable);
    static readonly FlowOverride kernelsForced = new();

    /// <summary>Whether our CUDA-core kernels are among the plans for the calling flow (off unless <see cref="KernelsVariable"/>=on).</summary>
    static bool KernelsOn => kernelsForced.Value ?? EnvironmentSwitch.IsOnIn(KernelsVariable);

    static readonly FusedSwitch Tf32x3Switch = new(Tf32x3Variable);

    /// <summary>Whether our tensor-core kernels are on for the calling flow (<see cref="Tf32x3Variable"/>; also KANLinear's dL/dx kernel, <see cref="KanInputGradient"/>).</summary>
    internal static bool Tf32x3On => Tf32x3Switch.On;

    /// <summary>The kernels among the candidates (a key of the choices): 1 our CUDA-core tiles, 2 our tensor-core tiles
    /// for every product, 4 those for the large products (<see cref="Tf32x3MinMacs"/>).</summary>
    static int KernelSet => (KernelsOn ? 1 : 0) | (Tf32x3On ? KernelsOn ? 2 : 4 : 0);

    /// <summary>
    /// Whether the calling flow's plans for an M × K · K × N product include <paramref name="plan"/>: cuBLAS's always; our
    /// CUDA-core tiles with <see cref="KernelsVariable"/>=on; our tensor-core tiles (unless <see cref="Tf32x3Variable"/> is
    /// off) then too, and otherwise those of <see cref="KanProductTiles.Tf32x3Default"/> in <see cref="Tf32x3Splits"/> for
    /// products of at least <see cref="Tf32x3MinMacs"/>.
    /// </summary>
    internal static bool Considered(ProductPlan plan, long m, long k, long n) => plan.Tile switch
    {
        null => true,
        { Tf32x3: false } => KernelsOn,
        { } tile => Tf32x3On && (KernelsOn
            || (m * k * n >= Tf32x3MinMacs && KanProductTiles.Tf32x3Default.Contains(tile) && Tf32x3Splits.Contains(plan.Splits))),
    };

    static readonly ConcurrentDictionary<(long M, long K, long N, string Layout, int Device, int Kernels), ProductPlan> chosen = new();

    /// <summary>
    /// The plans chosen so far, by shape (M, K, N), layout (n: row-major, t: transposed, a then b), device and which of
    /// our kernels were among the candidates (<see cref="KernelSet"/>; reports).
    /// </summary>
    public static IReadOnlyDictionary<(long M, long K, long N, string Layout, int Device, int Kernels), ProductPlan> Chosen => chosen;

    /// <summary><paramref name="body"/>'s result with the calling flow choosing plans or not, whatever the environment says.</summary>
    internal static T With<T>(bool on, Func<T> body) => Switch.With(on, body);

    /// <summary><paramref name="body"/>'s result with the calling flow's choice including our CUDA-core kernels or not.</summary>
    internal static T WithKernels<T>(bool on, Func<T> body) => kernelsForced.With(on, body);

    /// <summary><paramref name="body"/>'s result with the calling flow's choice including our tensor-core kernels or not.</summary>
    internal static T WithTf32x3<T>(bool on, Func<T> body) => Tf32x3Switch.With(on, body);

    /// <summary>a · b for 2-D a (M × K) and b (K × N), any strides, run as measured for its shape (see the class).</summary>
    public static Tensor MatMul(Tensor a, Tensor b) => Run(a, b, PlanFor(a, b));

    /// <summary>The plan <see cref="MatMul"/> takes for a · b: the single cuBLAS product wherever no choice applies (see the class).</summary>
    public static ProductPlan PlanFor(Tensor a, Tensor b)
    {
        if (Deterministic || !Switch.Applies(a) || a.dtype != ScalarType.Float32 || b.dtype != ScalarType.Float32 || a.dim() != 2 || b.dim() != 2)
            return ProductPlan.Single;
        var key = (a.shape[0], a.shape[1], b.shape[1], $"{Letter(a)}{Letter(b)}", (int)a.device_index, KernelSet);
        if (chosen.TryGetValue(key, out var plan)) return plan;
        if (CudaGraph.AnyCapturing) return ProductPlan.Single;
        return chosen.GetOrAdd(key, _ => Measure(a, b, [.. Candidates(a, b)]));
    }

    /// <summary>The split <see cref="MatMul"/> takes for a · b (1: not split).</summary>
    public static int SplitFor(Tensor a, Tensor b) => PlanFor(a, b).Splits;

    /// <summary>A 2-D operand's layout letter: n row-major (stride 1 along its columns), t transposed (along its rows), s neither.</summary>
    internal static char Letter(Tensor t) => t.stride(1) == 1 ? 'n' : t.stride(0) == 1 ? 't' : 's';

    /// <summary>a · b run as <paramref name="plan"/> says.</summary>
    public static Tensor Run(Tensor a, Tensor b, ProductPlan plan) =>
        plan.Tile is { } tile && Kernels(a) is { } kernels ? kernels.KanProduct(a, b, tile, plan.Splits) : Product(a, b, plan.Splits);

    static IKanProductKernels? Kernels(Tensor t) => FusedSwitch.Kernels(t);

    /// <summary>The plans that apply to a · b: cuBLAS's splits that divide K, then our kernels' (those <see cref="Considered"/>, when built).</summary>
    static IEnumerable<ProductPlan> Candidates(Tensor a, Tensor b)
    {
        long k = a.shape[1];
        foreach (var s in Splits.Where(s => k % s == 0)) yield return new(null, s);
        if (Kernels(a) is not { } kernels) yield break;
        long m = a.shape[0], n = b.shape[1];
        foreach (var tile in KanProductTiles.All.Concat(KanProductTiles.Tf32x3))
            foreach (var s in KernelSplits.Where(s => k / s >= KernelSliceMin && Considered(new(tile, s), m, k, n) && kernels.KanProductSupports(a, b, tile, s)))
                yield return new(tile, s);
    }

    /// <summary>
    /// The fastest of <paramref name="plans"/> by <paramref name="time"/>, unless it is not <see cref="Margin"/> of the
    /// single cuBLAS product's time or better (or that product is not among them): then the single cuBLAS product.
    /// </summary>
    internal static T Choose<T>(IEnumerable<T> plans, T single, Func<T, double> time) where T : notnull
    {
        var times = plans.Distinct().ToDictionary(p => p, time);
        if (!times.TryGetValue(single, out var one)) return single;
        var (best, fastest) = times.MinBy(t => t.Value);
        return fastest <= Margin * one ? best : single;
    }

    /// <summary><see cref="Choose"/> over splits, 1 the single product.</summary>
    internal static int Choose(IEnumerable<int> splits, Func<int, double> time) => Choose(splits, 1, time);

    /// <summary>a · b as <paramref name="splits"/> products over consecutive slices of the reduction and their sum (over the batch, in order).</summary>
    public static Tensor Product(Tensor a, Tensor b, int splits)
    {
        if (splits <= 1) return a.matmul(b);
        long m = a.shape[0], k = a.shape[1], n = b.shape[1], c = k / splits;
        if (k % splits != 0) throw new ArgumentException($"a reduction of {k} does not split in {splits}");
        using var scope = NewDisposeScope();
        // Slice j of a is a[:, j c : (j + 1) c], of b is b[j c : (j + 1) c, :]: views of their storage, offsets included.
        var av = a.as_strided([splits, m, c], [c * a.stride(1), a.stride(0), a.stride(1)], a.storage_offset());
        var bv = b.as_strided([splits, c, n], [c * b.stride(0), b.stride(0), b.stride(1)], b.storage_offset());
        var partials = av.bmm(bv);
        // On CUDA our fixed-order merge (in double, one launch of small blocks) replaces torch's reduction kernel.
        return (MergeSwitch.Applies(partials) && Kernels(partials) is { } kernels ? kernels.SumSplits(partials) : partials.sum(0L))
            .MoveToOuterDisposeScope();
    }

    /// <summary>Set to <c>off</c> to add the split products with torch's sum instead of our merge kernel (a comparison).</summary>
    public const string MergeVariable = "UKAN_FUSED_SPLIT_MERGE";

    static readonly FusedSwitch MergeSwitch = new(MergeVariable);

    /// <summary><paramref name="body"/>'s result with the split products added by our merge or by torch's sum, whatever the environment says.</summary>
    internal static T WithMerge<T>(bool on, Func<T> body) => MergeSwitch.With(on, body);

    /// <summary>
    /// The plan chosen for a · b among <paramref name="plans"/>: one untimed run of each, one timed round of all, then
    /// four rounds more of the <see cref="Finalists"/> fastest and the single cuBLAS product, and <see cref="Choose{T}"/>
    /// on their medians.
    /// </summary>
    static ProductPlan Measure(Tensor a, Tensor b, ProductPlan[] plans)
    {
        var runs = Warm(a, b, plans);
        Round(a, b, plans, runs);
        var finalists = plans.OrderBy(p => runs[p][0]).Take(Finalists).Append(ProductPlan.Single).Distinct().ToArray();
        for (int round = 1; round < 5; round++) Round(a, b, finalists, runs);
        return Choose(finalists, ProductPlan.Single, p => Median(runs[p]));
    }

    /// <summary>
    /// Every plan that applies to a · b, our kernels' included, with its median time in milliseconds over five rounds of
    /// all, fastest first (<c>ukan bench products</c>; the choice itself times fewer rounds).
    /// </summary>
    internal static IReadOnlyList<(ProductPlan Plan, double Ms)> TimeEvery(Tensor a, Tensor b)
    {
        var plans = WithKernels(true, () => WithTf32x3(true, () => Candidates(a, b).ToArray()));
        var runs = Warm(a, b, plans);
        for (int round = 0; round < 5; round++) Round(a, b, plans, runs);
        return [.. plans.Select(p => (p, Median(runs[p]))).OrderBy(t => t.Item2)];
    }

    static double Median(List<double> runs) => runs.Order().ElementAt(runs.Count / 2);

    /// <summary>One untimed run of each plan; an empty list of times per plan.</summary>
    static Dictionary<ProductPlan, List<double>> Warm(Tensor a, Tensor b, ProductPlan[] plans)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var p in plans) Run(a, b, p).Dispose();
        return plans.ToDictionary(p => p, _ => new List<double>());
    }

    /// <summary>
    /// A round: every plan of <paramref name="timed"/> in turn (so that a change of the GPU's clock reaches all alike),
    /// each as ten products back to back, the time per product appended to its list: the GPU time as a replayed CUDA
    /// graph runs them (<see cref="IGpuTimer"/>; the training step replays one), or, without our kernels, the wall-clock
    /// between two synchronisations.
    /// </summary>
    static void Round(Tensor a, Tensor b, IEnumerable<ProductPlan> timed, Dictionary<ProductPlan, List<double>> runs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var timer = FusedSwitch.Kernels(a) as IGpuTimer;
        foreach (var p in timed)
        {
            void Ten() { for (int i = 0; i < 10; i++) Run(a, b, p).Dispose(); }
            if (timer is not null)
            {
                runs[p].Add(timer.GpuMilliseconds(Ten) / 10);
                continue;
            }
            cuda.synchronize(a.device);
            var clock = Stopwatch.StartNew();
            Ten();
            cuda.synchronize(a.device);
            runs[p].Add(clock.Elapsed.TotalMilliseconds / 10);
        }
    }
}
