using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Benchmarks;

/// <summary>Summary of repeated timings in milliseconds.</summary>
public sealed record Timing(double MedianMs, double P10Ms, double P90Ms, double MinMs, double MeanMs, int Runs)
{
    public static Timing Of(IReadOnlyList<double> ms)
    {
        var sorted = ms.Order().ToArray();
        double Q(double q) => sorted[(int)Math.Round(q * (sorted.Length - 1))];
        return new Timing(Q(0.5), Q(0.1), Q(0.9), sorted[0], sorted.Average(), sorted.Length);
    }

    public string Spread => $"{P10Ms:F2}–{P90Ms:F2}";
}

/// <summary>
/// Times a piece of device work: warm-up runs first (so that kernel selection, allocator growth and lazy
/// initialisation stay out of the numbers), then each timed run is bracketed by device synchronisations, since GPU
/// work is asynchronous and a host clock alone would time only the launches.
/// </summary>
public static class BenchTimer
{
    public static Timing Measure(Action body, int warmup, int runs, Device device)
    {
        for (int i = 0; i < warmup; i++) body();
        var ms = new List<double>(runs);
        for (int i = 0; i < runs; i++) ms.Add(Time(body, device));
        return Timing.Of(ms);
    }

    /// <summary>Milliseconds of one run of <paramref name="body"/>, between device synchronisations.</summary>
    public static double Time(Action body, Device device)
    {
        Synchronize(device);
        var sw = Stopwatch.StartNew();
        body();
        Synchronize(device);
        return sw.Elapsed.TotalMilliseconds;
    }

    public static void Synchronize(Device device)
    {
        if (device.type == DeviceType.CUDA) cuda.synchronize();
    }
}
