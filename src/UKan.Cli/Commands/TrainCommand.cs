using System.CommandLine;
using UKan.Data;
using UKan.Training;
using UKan.Training.Distributed;

namespace UKan.Cli.Commands;

/// <summary><c>ukan train</c>: train a segmentation model on a dataset folder, or continue a run.</summary>
static class TrainCommand
{
    public static Command Create()
    {
        // The options' defaults come from a default config, so that TrainConfig is the one place they are set.
        var defaults = new TrainConfig { Data = "", Output = "" };
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var command = new Command("train", "Train a segmentation model on a folder of images and masks (official U-KAN recipe by default), or --resume a run.");
        var data = new Option<string?>("--data") { Description = "Dataset folder: images/<id>.<ext> and masks/0/<id>.<ext> (see 'ukan data prepare')." };
        var output = new Option<string?>("--out") { Description = "Run folder to create (default: runs/<data>-<model>-<time>)." };
        var resume = SharedOptions.Resume();
        var model = new ModelOptions();
        var epochs = SharedOptions.Epochs(defaults.Epochs);
        var batch = SharedOptions.Batch(defaults.Batch);
        var size = SharedOptions.Size("Training size: N or HxW (multiples of 32; 256 for BUSI/CVC, 512 for GlaS).",
            defaults.Height == defaults.Width ? defaults.Height.ToString(inv) : $"{defaults.Height}x{defaults.Width}");
        var lr = new Option<double>("--lr") { Description = "Learning rate of all non-KAN weights.", DefaultValueFactory = _ => defaults.Lr };
        var kanLr = new Option<double>("--kan-lr") { Description = "Learning rate of the KAN weights (names with 'layer' and 'fc').", DefaultValueFactory = _ => defaults.KanLr };
        var wd = new Option<double>("--weight-decay") { Description = "Weight decay of non-KAN weights.", DefaultValueFactory = _ => defaults.WeightDecay };
        var kanWd = new Option<double>("--kan-weight-decay") { Description = "Weight decay of the KAN weights.", DefaultValueFactory = _ => defaults.KanWeightDecay };
        var minLr = new Option<double>("--min-lr") { Description = "Final learning rate of the cosine schedule.", DefaultValueFactory = _ => defaults.MinLr };
        var dataSeed = new Option<long>("--data-seed") { Description = "Split seed (the paper averages 2981, 6142, 1187).", DefaultValueFactory = _ => defaults.DataSeed };
        var seed = new Option<long>("--seed") { Description = "Model initialisation seed.", DefaultValueFactory = _ => defaults.TorchSeed };
        var preprocessing = new Option<string>("--preprocessing") { Description = "official (the reference pipeline: BGR, double normalisation) or standard (RGB, one normalisation).", DefaultValueFactory = _ => defaults.Preprocessing.ToString().ToLowerInvariant() };
        var split = new Option<string?>("--split") { Description = "Reuse a split.json instead of making one from --data-seed." };
        var valFraction = new Option<double>("--val-fraction") { Description = "Share of images held out for validation.", DefaultValueFactory = _ => defaults.ValidationFraction };
        var early = new Option<int>("--early-stopping") { Description = "Stop after N epochs without a better validation IoU (-1: never).", DefaultValueFactory = _ => defaults.EarlyStopping };
        var valEvery = new Option<int>("--val-every") { Description = "Validate every N epochs.", DefaultValueFactory = _ => defaults.ValidateEvery };
        var graphs = SharedOptions.Graphs();
        var precisionOption = SharedOptions.Precision(acceptOnly: true, "fp32", "fp32-strict", "bf16");
        var layout = SharedOptions.Layout();
        preprocessing.AcceptOnlyFromAmong("official", "standard");
        var placement = new Option<string>("--data-placement") { Description = "Where batches are built and augmented: auto (on the GPU when the decoded data fit in 4 GiB), host, device.", DefaultValueFactory = _ => defaults.DataPlacement.ToString().ToLowerInvariant() };
        placement.AcceptOnlyFromAmong("auto", "host", "device");
        var profileOption = new Option<string?>("--profile")
        {
            Description = "Print where the run's time went (start-up, data, steps, validation, checkpoints, ...) and write profile.json into the run folder. "
                + "On a GPU each phase ends with a synchronisation (sync, the default) so that its GPU work is charged to it; "
                + "--profile async leaves the GPU running ahead (true epoch times, GPU work charged to the phase that waits for it).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        profileOption.AcceptOnlyFromAmong("sync", "async");
        var autotune = new Option<bool>("--cudnn-autotune")
        {
            Description = "Time cuDNN's convolution algorithms for each shape (cudnn.benchmark, as the official train.py). "
                + "Off by default: cuDNN's heuristics start about 4 s sooner and were as fast per epoch on an H200.",
        };
        var gpus = SharedOptions.Gpus();
        var devices = SharedOptions.Devices();
        var syncBn = SharedOptions.SyncBatchNorm();
        // Every step's loss (averaged over the workers) into a CSV file: for comparing runs step by step (it waits for
        // the GPU after each step, so it is not for normal runs).
        var logSteps = new Option<string?>("--log-steps") { Description = "Write every step's loss to this CSV file (slow: waits for each step).", Hidden = true };
        model.AddTo(command);
        foreach (var o in new Option[] { data, output, resume, epochs, batch, size, lr, kanLr, wd, kanWd, minLr, dataSeed, seed, preprocessing, split, valFraction, early, valEvery, graphs, precisionOption, layout, placement, profileOption, autotune, gpus, devices, syncBn, logSteps })
            command.Options.Add(o);

        command.SetAction(parsed =>
        {
            bool profiling = parsed.GetResult(profileOption) is not null;
            bool profileSync = profiling && parsed.GetValue(profileOption) != "async";
            // The supervisor: every worker gets this command line; a new run's default folder is fixed here so that they agree on it.
            if (DataParallelLaunch.SuperviseIfAsked(parsed, gpus, devices, () =>
                    parsed.GetValue(resume) is null && parsed.GetValue(output) is null && parsed.GetValue(data) is string d
                        ? ["--out", DefaultOutput(d, model.Resolve(parsed))] : []) is int supervised)
                return supervised;
            var rt = CommandLine.StartTorch(parsed);
            // A worker stops when its supervisor says so (see StopChannel); a lone process on Ctrl+C or SIGTERM.
            var (cancel, parallel) = DataParallelLaunch.Join("step");
            using var _cancel = cancel;
            using var _collectives = parallel?.Collectives;
            var progress = new ConsoleProgress();
            TrainResult result;
            if (parsed.GetValue(resume) is string runDir)
            {
                var configPath = Path.Combine(runDir, "config.json");
                TrainConfig? run = null;
                ResumeConflicts.Refuse(parsed, command, runDir, new HashSet<string> { "--resume", "--epochs", "--profile", "--gpus", "--devices", "--log-steps" },
                    name => RunValue(run ??= File.Exists(configPath) ? TrainConfig.Load(configPath) : null, name));
                SharedOptions.CheckResumeEpochs(parsed.GetValue(epochs));
                Console.WriteLine($"resuming {runDir} on {Describe(rt, parallel)}");
                result = progress.Run(p => Trainer.Resume(runDir, parsed.GetValue(epochs), p, cancel.Token, profileSync, parallel, parsed.GetValue(logSteps)));
            }
            else
            {
                var dataDir = parsed.GetValue(data) ?? throw new UserError("--data is required (or --resume RUN to continue a run).");
                var spec = model.Resolve(parsed);
                var (h, w) = SharedOptions.ParseSize(parsed.GetValue(size)!);
                var graphsMode = parsed.GetValue(graphs);
                if (parsed.GetValue(precisionOption) == "bf16" && rt.Device.type != TorchSharp.DeviceType.CUDA)
                    throw new UserError($"--precision bf16 is for CUDA devices (CUDA autocast); on {rt.Device} use --precision fp32.");
                SharedOptions.CheckGraphs(graphsMode);
                var config = new TrainConfig
                {
                    Data = Path.GetFullPath(dataDir),
                    Output = Path.GetFullPath(parsed.GetValue(output) ?? DefaultOutput(dataDir, spec)),
                    Model = spec,
                    Epochs = parsed.GetValue(epochs) ?? defaults.Epochs,
                    Batch = parsed.GetValue(batch), Height = h, Width = w,
                    Lr = parsed.GetValue(lr), KanLr = parsed.GetValue(kanLr), WeightDecay = parsed.GetValue(wd), KanWeightDecay = parsed.GetValue(kanWd),
                    MinLr = parsed.GetValue(minLr), DataSeed = parsed.GetValue(dataSeed), TorchSeed = parsed.GetValue(seed),
                    Preprocessing = Preprocessing.Parse(parsed.GetValue(preprocessing)!), Split = parsed.GetValue(split),
                    ValidationFraction = parsed.GetValue(valFraction), EarlyStopping = parsed.GetValue(early), ValidateEvery = parsed.GetValue(valEvery),
                    CudaGraphs = graphsMode != "off",
                    CudnnAutotune = parsed.GetValue(autotune),
                    Precision = UKan.Benchmarks.PrecisionSettings.Parse(parsed.GetValue(precisionOption)!),
                    ChannelsLast = SharedOptions.ChannelsLast(parsed.GetValue(layout), rt.Device),
                    DataPlacement = Enum.Parse<DataPlacement>(parsed.GetValue(placement)!, ignoreCase: true),
                    Devices = parallel?.WorldSize ?? 1,
                    SyncBatchNorm = parsed.GetValue(syncBn),
                };
                Console.WriteLine($"training {spec.Describe()} on {config.Data} ({Describe(rt, parallel)}), run folder {config.Output}");
                if (parallel is not null)
                    Console.WriteLine($"batch {config.Batch} per device × {parallel.WorldSize} devices = global batch {config.Batch * parallel.WorldSize}; batch norm {(config.SyncBatchNorm ? "synchronised" : "per device")}; {parallel.Collectives.Describe}");
                result = progress.Run(p => Trainer.Start(config, p, cancel.Token, profileSync, parallel, parsed.GetValue(logSteps)));
            }
            if (profiling && result.Profile is { } profile)
            {
                var path = Path.Combine(result.RunFolder, "profile.json");
                UKan.AtomicFile.WriteAllText(path, profile.ToJson());
                Console.WriteLine(profile.ToTable());
                Console.WriteLine($"profile written to {path}");
            }
            Console.WriteLine(result.Stopped
                ? $"stopped after epoch {result.EpochsDone}; continue with: ukan train --resume {result.RunFolder}"
                : $"done: best validation IoU {result.BestIou:F4} at epoch {result.BestEpoch + 1}; run folder {result.RunFolder} (model.safetensors, metrics.csv, curves.png, overlays_best.png)");
            return result.Stopped ? 130 : 0;
        });
        return command;
    }

    /// <summary>runs/&lt;data&gt;-&lt;model&gt;-&lt;time&gt;: a new run's folder when --out is not given.</summary>
    static string DefaultOutput(string dataDir, UKan.Models.ModelSpec spec) =>
        Path.Combine("runs", $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDir)))}-{spec.Architecture.ToString().ToLowerInvariant()}-{DateTime.Now:yyyyMMdd-HHmmss}");

    static string Describe(UKan.Native.RuntimeInfo rt, DataParallel? parallel) =>
        parallel is null ? rt.Device.ToString() : $"{rt.Device}, worker {parallel.Rank} of {parallel.WorldSize}";

    /// <summary>A run's setting as the option that sets it would spell it, for the --resume conflict message.</summary>
    static string? RunValue(TrainConfig? c, string option)
    {
        if (c is null) return null;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return option switch
        {
            "--data" => c.Data,
            "--out" => c.Output,
            "--model" => c.Model.Architecture switch { UKan.Models.Architecture.AllUKan => "allukan", UKan.Models.Architecture.StackedKan => "stacked-kan", _ => "ukan" },
            "--preset" => c.Model.Preset ?? "custom",
            "--embed-dims" => string.Join(',', c.Model.EmbedDims),
            "--mlp" => c.Model.Mixer == UKan.Models.TokenMixer.Mlp ? "on" : "off",
            "--in-channels" => c.Model.InChannels.ToString(inv),
            "--classes" => c.Model.NumClasses.ToString(inv),
            "--arch-options" => c.Model.ArchitectureOptions?.GetRawText() ?? "{}",
            "--batch" => c.Batch.ToString(inv),
            "--size" => $"{c.Height}x{c.Width}",
            "--lr" => c.Lr.ToString(inv),
            "--kan-lr" => c.KanLr.ToString(inv),
            "--weight-decay" => c.WeightDecay.ToString(inv),
            "--kan-weight-decay" => c.KanWeightDecay.ToString(inv),
            "--min-lr" => c.MinLr.ToString(inv),
            "--data-seed" => c.DataSeed.ToString(inv),
            "--seed" => c.TorchSeed.ToString(inv),
            "--preprocessing" => c.Preprocessing.ToString().ToLowerInvariant(),
            "--split" => c.Split ?? "(made from --data-seed)",
            "--val-fraction" => c.ValidationFraction.ToString(inv),
            "--early-stopping" => c.EarlyStopping.ToString(inv),
            "--val-every" => c.ValidateEvery.ToString(inv),
            "--graphs" => c.CudaGraphs ? "auto" : "off",
            "--cudnn-autotune" => c.CudnnAutotune ? "on" : "off",
            "--precision" => c.Precision.ToString().ToLowerInvariant(),
            "--layout" => c.ChannelsLast ? "channels-last" : "nchw",
            "--sync-bn" => c.SyncBatchNorm ? "on" : "off",
            _ => null,
        };
    }
}
