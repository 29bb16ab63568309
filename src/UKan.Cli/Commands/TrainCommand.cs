using System.CommandLine;
using UKan.Training;
using UKan.Training.Distributed;

namespace UKan.Cli.Commands;

/// <summary><c>ukan train</c>: train a segmentation model on a dataset folder, or continue a run.</summary>
static class TrainCommand
{
    public static Command Create() => Build().Command;

    /// <summary>
    /// Checks the options of a new run as 'ukan train <paramref name="args"/>' would (values, the split file) without
    /// reading the data or making anything: for commands that start train processes (sweep), so that a wrong value
    /// fails once, up front, rather than in every run's log.
    /// </summary>
    public static void CheckNewRun(IReadOnlyList<string> args, TorchSharp.torch.Device device)
    {
        var (command, newRun) = Build();
        var parsed = command.Parse(args);
        if (parsed.Errors.Count > 0) throw new UserError(CommandLine.Readable(CommandLine.OneLine(parsed.Errors[0].Message)));
        var config = newRun(parsed, device, 1);
        config.Validate();
        if (config.Split is string split) UKan.Data.DataSplit.Load(split);
    }

    /// <summary>The command, and how it makes a new run's config from its options (device, number of workers).</summary>
    static (Command Command, Func<ParseResult, TorchSharp.torch.Device, int, TrainConfig> NewRun) Build()
    {
        var defaults = new TrainConfig { Data = "", Output = "" };
        var command = new Command("train", "Train a segmentation model on a folder of images and masks (official U-KAN recipe by default), or --resume a run.");
        var data = new Option<string?>("--data") { Description = "Dataset folder: images/<id>.<ext> and masks/0/<id>.<ext> (see 'ukan data prepare')." };
        var output = new Option<string?>("--out") { Description = "Run folder to create (default: runs/<data>-<model>-<time>)." };
        var resume = SharedOptions.Resume();
        var recipe = new TrainOptions(resumable: true);
        var split = new Option<string?>("--split") { Description = "Reuse a split.json instead of making one from --data-seed." };
        var valFraction = new Option<double>("--val-fraction") { Description = "Share of images held out for validation.", DefaultValueFactory = _ => defaults.ValidationFraction };
        var profileOption = SharedOptions.Profile();
        var gpus = SharedOptions.Gpus();
        var devices = SharedOptions.Devices();
        var syncBn = SharedOptions.SyncBatchNorm();
        // Every step's loss (averaged over the workers) into a CSV file: for comparing runs step by step (it waits for
        // the GPU after each step, so it is not for normal runs).
        var logSteps = new Option<string?>("--log-steps") { Description = "Write every step's loss to this CSV file (slow: waits for each step).", Hidden = true };
        recipe.AddTo(command);
        TrainConfig NewRun(ParseResult parsed, TorchSharp.torch.Device device, int workers)
        {
            var dataDir = parsed.GetValue(data) ?? throw new UserError("--data is required (or --resume RUN to continue a run).");
            var outDir = parsed.GetValue(output) ?? DefaultOutput(dataDir, recipe.Model.Resolve(parsed));
            return recipe.Resolve(parsed, dataDir, outDir, device) with
            {
                Split = parsed.GetValue(split),
                ValidationFraction = parsed.GetValue(valFraction),
                Devices = workers,
                SyncBatchNorm = parsed.GetValue(syncBn),
            };
        }

        foreach (var o in new Option[] { data, output, resume, split, valFraction, profileOption, gpus, devices, syncBn, logSteps })
            command.Options.Add(o);

        command.SetAction(parsed =>
        {
            var (profiling, profileSync) = SharedOptions.ProfileMode(parsed, profileOption);
            // The supervisor: every worker gets this command line; a new run's default folder is fixed here so that they agree on it.
            if (DataParallelLaunch.SuperviseIfAsked(parsed, gpus, devices, () =>
                    parsed.GetValue(resume) is null && parsed.GetValue(output) is null && parsed.GetValue(data) is string d
                        ? ["--out", DefaultOutput(d, recipe.Model.Resolve(parsed))] : []) is int supervised)
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
                var configPath = new RunFolder(runDir).Config;
                TrainConfig? run = null;
                ResumeConflicts.Refuse(parsed, command, runDir, new HashSet<string> { "--resume", "--epochs", "--profile", "--gpus", "--devices", "--log-steps" },
                    name => TrainOptions.RunValue(run ??= File.Exists(configPath) ? TrainConfig.Load(configPath) : null, name));
                SharedOptions.CheckResumeEpochs(parsed.GetValue(recipe.Epochs));
                UKan.IO.RunDirectory.CheckExisting(runDir, UKan.IO.RunDirectory.Segmentation);
                Console.WriteLine($"resuming {runDir} on {Describe(rt, parallel)}");
                result = progress.Run(p => Trainer.Resume(runDir, parsed.GetValue(recipe.Epochs), p, cancel.Token, profileSync, parallel, parsed.GetValue(logSteps)));
            }
            else
            {
                var config = NewRun(parsed, rt.Device, parallel?.WorldSize ?? 1);
                Trainer.RequireDataFolder(config.Data);
                if (parallel is not { IsLeader: false })
                    UKan.IO.RunDirectory.CheckNew(config.Output, UKan.IO.RunDirectory.Segmentation, () => File.Exists(new RunFolder(config.Output).Last));
                Console.WriteLine($"training {config.Model.Describe()} on {config.Data} ({Describe(rt, parallel)}), run folder {config.Output}");
                if (parallel is not null)
                    Console.WriteLine($"batch {config.Batch} per device × {parallel.WorldSize} devices = global batch {config.Batch * parallel.WorldSize}; " +
                                      $"batch norm {(config.SyncBatchNorm ? "synchronised" : "per device")}; {parallel.Collectives.Describe}");
                result = progress.Run(p => Trainer.Start(config, p, cancel.Token, profileSync, parallel, parsed.GetValue(logSteps)));
            }
            if (profiling && result.Profile is { } profile) SharedOptions.WriteProfile(profile, result.RunFolder);
            Console.WriteLine(result.Stopped
                ? $"stopped after epoch {result.EpochsDone}; continue with: ukan train --resume {result.RunFolder}"
                : $"done: best validation IoU {result.BestIou:F4} at epoch {result.BestEpoch + 1}; run folder {result.RunFolder} (model.safetensors, metrics.csv, curves.png, overlays_best.png)");
            return result.Stopped ? 130 : 0;
        });
        return (command, NewRun);
    }

    /// <summary>runs/&lt;data&gt;-&lt;model&gt;-&lt;time&gt;: a new run's folder when --out is not given.</summary>
    static string DefaultOutput(string dataDir, UKan.Models.ModelSpec spec) =>
        Path.Combine("runs", $"{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDir)))}-{UKan.Models.ArchitectureNames.Name(spec.Architecture)}-{DateTime.Now:yyyyMMdd-HHmmss}");

    static string Describe(UKan.Native.RuntimeInfo rt, DataParallel? parallel) =>
        parallel is null ? rt.Device.ToString() : $"{rt.Device}, worker {parallel.Rank} of {parallel.WorldSize}";
}
