using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// Where the wall-clock time of a training run goes, phase by phase: start-up (process, data check, CUDA streams and
/// the libtorch shim, model and optimizer, decoding and upload, the wait for <see cref="StartupWarmup"/>), the first step
/// (eager) and the second (with graphs: the capture), then per epoch data, steps,
/// validation, checkpoints, logging, and the final outputs. Phases are timed on the host. With
/// <see cref="Synchronize"/> (ukan train --profile on a GPU) every phase ends with a device synchronisation, so that
/// the GPU work a phase queued is charged to it and not to the next phase that waits; that costs a little speed (the
/// host can no longer run ahead of the GPU), which is why it is not the default.
/// </summary>
public sealed class TrainingProfile
{
    /// <summary>The phases of a segmentation run, in the order they are reported.</summary>
    public static readonly string[] Phases =
    [
        "startup.process", "startup.data_check", "startup.cuda", "startup.model", "startup.data_load", "startup.warmup", "first_step",
        "second_step", "data", "step", "validation", "checkpoint", "logging", "final_outputs",
    ];

    /// <summary>
    /// The phases of a diffusion run (ukan diffusion train): no validation, but sample grids; the names they share
    /// with <see cref="Phases"/> mean the same, so that one reader handles both profiles.
    /// </summary>
    public static readonly string[] DiffusionPhases =
    [
        "startup.process", "startup.data_load", "startup.model", "first_step", "data", "step", "checkpoint", "sampling",
        "logging", "final_outputs",
    ];

    readonly string[] phases;
    readonly Dictionary<string, (double Seconds, long Count)> totals;
    readonly List<double> epochSeconds = [];
    readonly Device device;
    readonly Stopwatch sinceStart = Stopwatch.StartNew();

    public bool Synchronize { get; }
    /// <summary>Seconds from process start to the end of the first epoch this process ran (NaN until then).</summary>
    public double FirstEpochEndSeconds { get; private set; } = double.NaN;
    /// <summary>Seconds from process start to when the trainer was called.</summary>
    public double ProcessSeconds { get; }

    /// <param name="device">The device the run trains on (synchronised at phase ends with <paramref name="synchronize"/>).</param>
    /// <param name="synchronize">End every phase with a device synchronisation (CUDA only).</param>
    /// <param name="phases">The phases this run reports (<see cref="Phases"/> when null).</param>
    public TrainingProfile(Device device, bool synchronize, IReadOnlyList<string>? phases = null)
    {
        this.phases = [.. phases ?? Phases];
        totals = this.phases.ToDictionary(p => p, _ => (0.0, 0L));
        this.device = device;
        Synchronize = synchronize && device.type == DeviceType.CUDA;
        ProcessSeconds = Math.Max(0, (DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds);
        Add("startup.process", ProcessSeconds);
    }

    /// <summary>Times a phase until disposed: <c>using (profile.Phase("step")) { ... }</c>.</summary>
    public PhaseTimer Phase(string name)
    {
        if (!totals.ContainsKey(name)) throw new ArgumentException($"unknown phase '{name}'");
        return new PhaseTimer(this, name);
    }

    public void Add(string name, double seconds)
    {
        var (s, n) = totals[name];
        totals[name] = (s + seconds, n + 1);
    }

    internal void End(string name, Stopwatch clock)
    {
        if (Synchronize) cuda.synchronize(device);
        Add(name, clock.Elapsed.TotalSeconds);
    }

    public void EpochDone(double seconds)
    {
        epochSeconds.Add(seconds);
        if (double.IsNaN(FirstEpochEndSeconds)) FirstEpochEndSeconds = ProcessSeconds + sinceStart.Elapsed.TotalSeconds;
    }

    public double Seconds(string phase) => totals[phase].Seconds;
    /// <summary>How often a phase was timed.</summary>
    public long Calls(string phase) => totals[phase].Count;
    /// <summary>The phases this profile reports, in order.</summary>
    public IReadOnlyList<string> PhaseNames => phases;
    public IReadOnlyList<double> EpochSeconds => epochSeconds;

    /// <summary>Median of the epochs after the first (the steady state), or of all when only one ran.</summary>
    public double SteadyEpochSeconds
    {
        get
        {
            var steady = (epochSeconds.Count > 1 ? epochSeconds.Skip(1) : epochSeconds).Order().ToList();
            return steady.Count == 0 ? double.NaN : steady[steady.Count / 2] / 2 + steady[(steady.Count - 1) / 2] / 2;
        }
    }

    public double TotalSeconds => ProcessSeconds + sinceStart.Elapsed.TotalSeconds;

    /// <summary>The profile as a table: phase, seconds, share of the run, calls, milliseconds per call.</summary>
    public string ToTable()
    {
        var inv = CultureInfo.InvariantCulture;
        double total = TotalSeconds;
        var sb = new StringBuilder();
        sb.AppendLine(string.Format(inv, "{0,-20} {1,10} {2,7} {3,8} {4,12}", "phase", "seconds", "share", "calls", "ms per call"));
        foreach (var p in phases)
        {
            var (s, n) = totals[p];
            sb.AppendLine(string.Format(inv, "{0,-20} {1,10:F3} {2,6:F1}% {3,8} {4,12:F2}", p, s, 100 * s / total, n, n == 0 ? 0 : 1000 * s / n));
        }
        double other = total - totals.Values.Sum(v => v.Seconds);
        sb.AppendLine(string.Format(inv, "{0,-20} {1,10:F3} {2,6:F1}%", "other", other, 100 * other / total));
        sb.AppendLine(string.Format(inv, "{0,-20} {1,10:F3}", "total", total));
        sb.Append(string.Format(inv, "epochs {0}: first {1:F3} s, steady (median after the first) {2:F3} s; process start to end of first epoch {3:F3} s{4}",
            epochSeconds.Count, epochSeconds.FirstOrDefault(double.NaN), SteadyEpochSeconds, FirstEpochEndSeconds,
            Synchronize ? "; phases end with a device synchronisation" : ""));
        return sb.ToString();
    }

    public string ToJson() => JsonSerializer.Serialize(new
    {
        total_seconds = TotalSeconds,
        synchronized = Synchronize,
        device = device.ToString(),
        phases = phases.Select(p => new { name = p, seconds = totals[p].Seconds, calls = totals[p].Count }),
        epochs = epochSeconds.Count,
        first_epoch_seconds = epochSeconds.Count > 0 ? epochSeconds[0] : (double?)null,
        steady_epoch_seconds = epochSeconds.Count > 0 ? SteadyEpochSeconds : (double?)null,
        process_start_to_first_epoch_end_seconds = double.IsNaN(FirstEpochEndSeconds) ? (double?)null : FirstEpochEndSeconds,
        epoch_seconds = epochSeconds,
    }, UKan.IO.JsonFiles.Options);
}
