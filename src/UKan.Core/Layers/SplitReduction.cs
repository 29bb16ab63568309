using System.Collections.Concurrent;
using System.Diagnostics;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The float32 products of the KAN layers (y = F·Wᵀ and dW = dyᵀ·F in <see cref="KanLinearFunction"/>), optionally
/// split along their reduction: a (M × K) · b (K × N) as S products over consecutive K/S slices of the reduction (one
/// strided-batched product of views, no copies), whose S partial results are then summed over the batch (a fixed
/// order). cuBLAS's own choice runs at 25–40 TFLOP/s on the smaller U-KAN shapes, where M × N gives too few tiles to fill
/// the GPU; on an H200 the weight gradient of the 160-channel stages (160 × 1,440 over 2,048 tokens at 256², 8,192 at
/// 512²) took 0.048 / 0.167 ms as one product and 0.036 / 0.123 ms split in four (docs/runs/kan-products-split-k-h200),
/// while other shapes are fastest unsplit. Which S is fastest depends on the GPU and the shape, so it is measured: the
/// first time a shape runs outside a CUDA graph capture (the warm-up steps), each S of <see cref="Splits"/> that divides K
/// is timed (ten products at a time, five rounds, the median), and a split is kept only when it is at least 10 %
/// faster than the single product (<see cref="Margin"/>): the choice is then the same from run to run where the gain is
/// clear (the 512² weight gradient, split in four in every run measured), and may differ where it is near the margin
/// (the same product at 256²). The choice is kept per shape and device for the process.
/// </summary>
/// <remarks>
/// Arithmetic: the same float32 products, summed in another order (S partial sums, then their sum), so results differ
/// from the unsplit product in the last bits, as cuBLAS's own split-K kernels do. Not applied: on the CPU, to other
/// dtypes (bf16 autocast), under <c>ukan train --deterministic</c> (where the choice, made by timing, could differ between
/// runs), during a capture for a shape not yet timed, or with <see cref="EnvironmentVariable"/>=off (a comparison).
/// </remarks>
public static class SplitReduction
{
    /// <summary>Set to <c>off</c> to run every KAN product as one cuBLAS product (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_SPLIT_REDUCTION";

    /// <summary>The splits tried.</summary>
    public static readonly int[] Splits = [1, 2, 4, 8];

    /// <summary>How much faster than the single product a split must be to be kept: 10 %.</summary>
    public const double Margin = 0.9;

    /// <summary>Set by <see cref="Training.Determinism"/>: every product unsplit.</summary>
    public static bool Deterministic { get; set; }

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    static readonly ConcurrentDictionary<(long M, long K, long N, int Device), int> chosen = new();

    /// <summary>The splits chosen so far, by shape (M, K, N) and device (reports).</summary>
    public static IReadOnlyDictionary<(long M, long K, long N, int Device), int> Chosen => chosen;

    /// <summary><paramref name="body"/>'s result with the calling flow splitting products or not, whatever the environment says.</summary>
    internal static T With<T>(bool on, Func<T> body) => Switch.With(on, body);

    /// <summary>a · b for 2-D a (M × K) and b (K × N), any strides, split as measured for its shape (see the class).</summary>
    public static Tensor MatMul(Tensor a, Tensor b) => Product(a, b, SplitFor(a, b));

    /// <summary>The split <see cref="MatMul"/> takes for a · b: 1 wherever it does not apply (see the class).</summary>
    public static int SplitFor(Tensor a, Tensor b)
    {
        if (Deterministic || !Switch.Applies(a) || a.dtype != ScalarType.Float32 || b.dtype != ScalarType.Float32 || a.dim() != 2 || b.dim() != 2)
            return 1;
        var key = (a.shape[0], a.shape[1], b.shape[1], (int)a.device_index);
        if (chosen.TryGetValue(key, out var s)) return s;
        if (CudaGraph.AnyCapturing) return 1;
        return chosen.GetOrAdd(key, _ =>
        {
            var times = Time(a, b, [.. Splits.Where(c => key.Item2 % c == 0)]);
            return Choose(times.Keys, c => times[c]);
        });
    }

    /// <summary>
    /// The fastest of <paramref name="splits"/> (1 among them) by <paramref name="time"/>, unless it is not
    /// <see cref="Margin"/> of the single product's time or better: then 1.
    /// </summary>
    internal static int Choose(IEnumerable<int> splits, Func<int, double> time)
    {
        var times = splits.Distinct().ToDictionary(s => s, time);
        if (!times.TryGetValue(1, out var single)) return 1;
        var (best, fastest) = times.MinBy(t => t.Value);
        return fastest <= Margin * single ? best : 1;
    }

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
        return av.bmm(bv).sum(0L).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Each split's median time in milliseconds over five rounds; a round times every split in turn (so that a change of
    /// the GPU's clock reaches all alike), each as ten products back to back between two synchronisations (one product
    /// of these shapes takes tens of microseconds, about as long as a synchronisation). One untimed run of each first.
    /// </summary>
    static Dictionary<int, double> Time(Tensor a, Tensor b, int[] splits)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = a.device;
        foreach (var s in splits) Product(a, b, s).Dispose();
        var runs = splits.ToDictionary(s => s, _ => new List<double>());
        for (int round = 0; round < 5; round++)
            foreach (var s in splits)
            {
                cuda.synchronize(device);
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < 10; i++) Product(a, b, s).Dispose();
                cuda.synchronize(device);
                runs[s].Add(clock.Elapsed.TotalMilliseconds / 10);
            }
        return runs.ToDictionary(r => r.Key, r => r.Value.Order().ElementAt(2));
    }
}
