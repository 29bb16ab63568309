using TorchSharp;
using UKan.Layers;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Benchmarks;

public sealed record KanBenchResult(long Rows, int Dim, string Device, string Precision,
    Timing Kan, Timing Linear, double Ratio, long KanPeakBytes, long LinearPeakBytes, string MemoryMethod, string KanPath);

/// <summary>
/// KANLinear(d, d) forward + backward (gradients for x and every weight, as inside U-KAN) against a bias-free
/// nn.Linear(d, d) on the same rows; the official layer's figures for the same comparison are in docs/results.md §2c.
/// </summary>
public static class KanBench
{
    /// <summary>U-KAN KAN-layer shapes at batch 8 (rows × d): block1 of the paper dims at 256×256, dblock2 of the class-default
    /// dims at 256×256, dblock2 of the paper dims at 512×512; the shapes of docs/results.md §2c.</summary>
    public static readonly (long Rows, int Dim)[] PaperShapes = [(2048, 160), (8192, 256), (32768, 128)];

    /// <param name="graphs">Time CUDA-graph replays of each layer's step, i.e. GPU time without launch overhead, for both layers.</param>
    public static KanBenchResult Run(long rows, int dim, Precision precision, Device device, int warmup = 10, int runs = 40, bool graphs = false)
    {
        graphs &= device.type == DeviceType.CUDA && UKan.Native.TorchCudaShim.Available;
        PrecisionSettings.Apply(precision);
        using var side = graphs ? new UKan.Native.SideStreamScope(UKan.Native.DeviceIndex.Of(device)) : null;
        manual_seed(0);
        var kan = new KanLinear(dim, dim);
        kan.to(device);
        var linear = nn.Linear(dim, dim, hasBias: false);
        linear.to(device);
        var x = (randn(rows, dim, device: device) * 0.8).requires_grad_(true);
        var gradOut = randn(rows, dim, device: device);
        var probe = new MemoryProbe(device);

        (Timing, long) Time(nn.Module<Tensor, Tensor> layer)
        {
            void Step()
            {
                using var scope = NewDisposeScope();
                layer.zero_grad();
                x.grad?.zero_();
                layer.call(x).backward([gradOut]);
            }
            Step();
            Action run = Step;
            var graph = graphs ? new UKan.Native.CudaGraph() : null;
            if (graph is not null) { graph.Capture(Step); run = graph.Replay; }
            probe.Start();
            var t = BenchTimer.Measure(run, warmup, runs, device);
            var peak = probe.PeakBytes();
            graph?.Dispose();
            return (t, peak);
        }

        var (lt, lm) = Time(linear);
        var (kt, km) = Time(kan);
        return new KanBenchResult(rows, dim, device.ToString(), precision.ToString().ToLowerInvariant(), kt, lt, kt.MedianMs / lt.MedianMs, km, lm, probe.Method,
            (kan.UsesFastPath ? "fast (closed-form basis, one GEMM)" : "general") + (graphs ? ", CUDA-graph replays" : ", eager"));
    }
}
