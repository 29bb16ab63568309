using System.CommandLine;
using UKan.Training;

namespace UKan.Cli;

/// <summary>
/// Options that several commands take with the same meaning, each defined once here so that their names, values,
/// help and parsing cannot drift apart between commands. An option instance belongs to one command (unless it is
/// recursive), so each method returns a fresh one.
/// </summary>
static class SharedOptions
{
    /// <summary>--resume RUN of the training commands.</summary>
    public static Option<string?> Resume() => new("--resume") { Description = "Continue the run in this folder from its last checkpoint." };

    /// <summary>
    /// --epochs of the training commands: nullable, because with --resume a given value extends the schedule and an
    /// absent one keeps the run's; <paramref name="defaultEpochs"/> (the config's) only appears in the help.
    /// </summary>
    public static Option<int?> Epochs(int defaultEpochs, bool resumable = true) =>
        new("--epochs") { Description = resumable ? $"Epochs (default {defaultEpochs}; with --resume: extend the schedule)." : $"Epochs (default {defaultEpochs})." };

    /// <summary>Refuses a non-positive --epochs given with --resume (a new run's config checks its own).</summary>
    public static void CheckResumeEpochs(int? epochs)
    {
        if (epochs is int e && e < 1) throw new UserError($"--epochs {e}: must be at least 1.");
    }

    /// <summary>--batch: the number of images a step or forward pass takes at once.</summary>
    public static Option<int> Batch(int defaultValue, string description = "Batch size.") =>
        new("--batch") { Description = description, DefaultValueFactory = _ => defaultValue };

    /// <summary>
    /// --size N or HxW (read with <see cref="ParseSize"/>); without <paramref name="defaultValue"/> the option is
    /// absent unless given, for commands that take the size from a run.
    /// </summary>
    /// <summary>--threshold: the probability above which a pixel is foreground (checked by <see cref="Segmenter.CheckThreshold"/>).</summary>
    public static Option<float> Threshold() =>
        new("--threshold") { Description = "Probability above which a pixel is foreground.", DefaultValueFactory = _ => 0.5f };

    public static Option<string?> Size(string description, string? defaultValue = null)
    {
        var size = new Option<string?>("--size") { Description = description };
        if (defaultValue is not null) size.DefaultValueFactory = _ => defaultValue;
        return size;
    }

    /// <summary>"256" or "256x320" → (height, width); sides are multiples of 32 up to <see cref="TrainConfig.MaxSide"/>.</summary>
    public static (int Height, int Width) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, out var v) && v > 0 && v <= TrainConfig.MaxSide))
        {
            int h = int.Parse(parts[0]), w = int.Parse(parts[^1]);
            if (h % 32 == 0 && w % 32 == 0) return (h, w);
        }
        throw new UserError($"--size {text}: expected N or HxW with multiples of 32 up to {TrainConfig.MaxSide}, e.g. 256 or 256x320.");
    }

    /// <summary>--layout of convolution weights and inputs; resolve it with <see cref="ChannelsLast"/>.</summary>
    public static Option<string> Layout()
    {
        var layout = new Option<string>("--layout")
        {
            Description = "Memory layout of convolution weights and input: auto (channels-last on CUDA, where it is faster), nchw, channels-last.",
            DefaultValueFactory = _ => "auto",
        };
        layout.AcceptOnlyFromAmong("auto", "nchw", "channels-last");
        return layout;
    }

    /// <summary>Whether a --layout value means channels-last on <paramref name="device"/>: auto picks it on CUDA only, where it is faster.</summary>
    public static bool ChannelsLast(string? layout, TorchSharp.torch.Device device) => layout switch
    {
        "channels-last" => true,
        "nchw" => false,
        _ => device.type == TorchSharp.DeviceType.CUDA,
    };

    /// <summary>--graphs: CUDA graphs for the timed or trained step; check "on" with <see cref="CheckGraphs"/>.</summary>
    public static Option<string> Graphs()
    {
        var graphs = new Option<string>("--graphs")
        {
            Description = "CUDA graphs for the step: auto (on a GPU when the libtorch shim builds), on, off.",
            DefaultValueFactory = _ => "auto",
        };
        graphs.AcceptOnlyFromAmong("auto", "on", "off");
        return graphs;
    }

    /// <summary>Refuses --graphs on when the libtorch shim that records graphs could not be built, naming why.</summary>
    public static void CheckGraphs(string? mode)
    {
        if (mode == "on" && !UKan.Native.TorchCudaShim.Available)
            throw new UserError($"--graphs on: CUDA graphs need the libtorch shim, which could not be built: {UKan.Native.TorchCudaShim.Problem}");
    }

    /// <summary>What each --precision value means, for the help of the commands that take it.</summary>
    static readonly Dictionary<string, string> PrecisionMeanings = new()
    {
        ["fp32"] = "fp32 (PyTorch's default: TF32 convolutions)",
        ["tf32"] = "tf32 (TF32 convolutions and matrix products)",
        ["fp32-strict"] = "fp32-strict (no TF32)",
        ["bf16"] = "bf16 (CUDA autocast to bfloat16; fp32 weights and optimizer)",
    };

    /// <summary>
    /// --precision (read with <see cref="UKan.Training.PrecisionSettings.Parse"/>), listing <paramref name="values"/>
    /// in the help. With <paramref name="acceptOnly"/> other values are a parse error; without it every mode
    /// PrecisionSettings knows is taken, as bench always has.
    /// </summary>
    public static Option<string> Precision(bool acceptOnly, params string[] values)
    {
        var described = values.Select(v => PrecisionMeanings[v]).ToArray();
        var precision = new Option<string>("--precision")
        {
            Description = described.Length == 1 ? described[0] + "." : string.Join(", ", described[..^1]) + " or " + described[^1] + ".",
            DefaultValueFactory = _ => "fp32",
        };
        if (acceptOnly) precision.AcceptOnlyFromAmong(values);
        return precision;
    }
    /// <summary>--gpus N: data-parallel training on the first N GPUs (one worker process each); read with <see cref="DataParallelLaunch.Requested"/>.</summary>
    public static Option<int?> Gpus() => new("--gpus")
    {
        Description = "Train data-parallel on the first N GPUs, one worker process each (NCCL); --batch is per GPU, the global batch is N × --batch.",
    };

    /// <summary>--devices LIST: the devices of a data-parallel run, named.</summary>
    public static Option<string?> Devices() => new("--devices")
    {
        Description = "Train data-parallel on these devices, e.g. cuda:0,cuda:1 (NCCL), or cpu,cpu (CPU workers over loopback TCP, for testing).",
    };

    /// <summary>--sync-bn: batch norm over the global batch in a data-parallel run.</summary>
    public static Option<bool> SyncBatchNorm() => new("--sync-bn")
    {
        Description = "With several devices: batch norm with the statistics of the global batch (SyncBatchNorm) instead of each device's own.",
    };

    /// <summary>
    /// --profile [sync|async] of the training commands: the run's time by phase, printed and written as profile.json
    /// (<see cref="WriteProfile"/>); read the mode with <see cref="ProfileMode"/>.
    /// </summary>
    public static Option<string?> Profile()
    {
        var option = new Option<string?>("--profile")
        {
            Description = "Print where the run's time went (start-up, data, steps, checkpoints, ...) and write profile.json into the run folder. "
                + "On a GPU each phase ends with a synchronisation (sync, the default) so that its GPU work is charged to it; "
                + "--profile async leaves the GPU running ahead (true epoch times, GPU work charged to the phase that waits for it).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        option.AcceptOnlyFromAmong("sync", "async");
        return option;
    }

    /// <summary>Whether --profile was given, and whether its phases end with a device synchronisation (all but --profile async).</summary>
    public static (bool Profiling, bool Synchronize) ProfileMode(ParseResult parsed, Option<string?> profile)
    {
        bool profiling = parsed.GetResult(profile) is not null;
        return (profiling, profiling && parsed.GetValue(profile) != "async");
    }

    /// <summary>Writes the profile as profile.json into the run folder (atomically) and prints its table.</summary>
    public static void WriteProfile(TrainingProfile profile, string runFolder)
    {
        var path = Path.Combine(runFolder, "profile.json");
        UKan.AtomicFile.WriteAllText(path, profile.ToJson());
        Console.WriteLine(profile.ToTable());
        Console.WriteLine($"profile written to {path}");
    }
}
