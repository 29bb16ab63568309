using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Benchmarks;

/// <summary>
/// One product of <see cref="ProductBench"/>: its shape, every plan's median time, and the plan the step would take on
/// these times among the default plans (cuBLAS's, and our tensor-core tiles for the large products) and with all our
/// kernels (UKAN_KAN_PRODUCT_KERNELS=on).
/// </summary>
public sealed record ProductBenchResult(int Size, string Layer, string Product, long M, long K, long N, string Layout,
    double CublasMs, string BestCublas, double BestCublasMs, string? BestOurs, double? BestOursMs, string Chosen,
    string ChosenWithKernels, IReadOnlyList<PlanTime> Plans)
{
    /// <summary>Multiply-adds × 2 of the product, in TFLOP, per millisecond given.</summary>
    public double Tflops(double ms) => 2.0 * M * K * N / (ms * 1e9);
}

/// <summary>A plan's median time in milliseconds.</summary>
public sealed record PlanTime(string Plan, double Ms);

/// <summary>
/// The float32 products of U-KAN's KAN layers (paper preset, batch 8) at one image size, each timed in every plan
/// <see cref="SplitReduction"/> chooses among (cuBLAS and our kernels, split or not): what the training step's first
/// steps measure and choose, laid out for a reader (<c>ukan bench products</c>). GPU time, as a replayed CUDA graph
/// runs the products (<see cref="IGpuTimer"/>).
/// </summary>
public static class ProductBench
{
    /// <summary>
    /// The KAN layers of U-KAN's paper preset at <paramref name="size"/>²: the encoder's and decoder's 160-channel
    /// blocks at 1/16 of the side, the 256-channel block at 1/32, the 128-channel decoder block at 1/8; each layer's
    /// y = F·Wᵀ (nt), dW = dyᵀ·F (tn) and dF = dy·W (nn) over the batch's tokens, F holding 9 features per input.
    /// </summary>
    public static IEnumerable<(string Layer, long Tokens, int Dim)> Layers(int size, int batch) =>
        [("block1, dblock1", batch * (size / 16L) * (size / 16L), 160), ("block2", batch * (size / 32L) * (size / 32L), 256),
         ("dblock2", batch * (size / 8L) * (size / 8L), 128)];

    public static IEnumerable<ProductBenchResult> Run(int size, int batch, Device device)
    {
        foreach (var (layer, tokens, dim) in Layers(size, batch))
        {
            using var scope = NewDisposeScope();
            manual_seed(0);
            var (f, w, dy) = (randn(tokens, 9 * dim, device: device), randn(dim, 9 * dim, device: device), randn(tokens, dim, device: device));
            foreach (var (product, a, b) in new[] { ("y = F·Wᵀ", f, w.t()), ("dW = dyᵀ·F", dy.t(), f), ("dF = dy·W", dy, w) })
            {
                var times = SplitReduction.TimeEvery(a, b);
                double Of(ProductPlan p) => times.First(t => t.Plan == p).Ms;
                var chosen = SplitReduction.Choose(times.Where(t => SplitReduction.Considered(t.Plan, a.shape[0], a.shape[1], b.shape[1])).Select(t => t.Plan),
                    ProductPlan.Single, Of);
                var withKernels = SplitReduction.Choose(times.Select(t => t.Plan), ProductPlan.Single, Of);
                var cublas = times.First(t => t.Plan.Tile is null);
                var ours = times.FirstOrDefault(t => t.Plan.Tile is not null);
                yield return new ProductBenchResult(size, $"{layer} ({tokens:N0} × {dim})", product, a.shape[0], a.shape[1], b.shape[1],
                    $"{SplitReduction.Letter(a)}{SplitReduction.Letter(b)}", Of(ProductPlan.Single), cublas.Plan.ToString(), cublas.Ms,
                    ours.Plan.Tile is null ? null : ours.Plan.ToString(), ours.Plan.Tile is null ? null : ours.Ms, chosen.ToString(), withKernels.ToString(),
                    [.. times.Select(t => new PlanTime(t.Plan.ToString(), t.Ms))]);
            }
        }
    }
}
