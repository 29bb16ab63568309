using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using UKan.Training;

namespace UKan.Cli.Commands;

/// <summary>
/// <c>ukan sweep</c>: a grid of independent trainings (datasets × models × split seeds), run as <c>ukan train</c>
/// child processes, K at a time on each visible GPU (or K at a time on the CPU), resumed where a call before left
/// them, and summarised in one table (mean ± sd of the best validation IoU and Dice per dataset and model).
/// </summary>
static class SweepCommand
{
    /// <summary>The train options the sweep sets itself, per run; every other train option is taken and passed on.</summary>
    static readonly HashSet<string> Owned = ["--data", "--out", "--resume", "--data-seed", "--model", "--mlp", "--gpus", "--devices", "--log-steps", "--profile"];

    /// <summary>Model names of the grid and the train options that make each.</summary>
    static readonly Dictionary<string, string[]> Models = new()
    {
        ["ukan"] = ["--model", "ukan"],
        ["mlp"] = ["--model", "ukan", "--mlp"],
        ["allukan"] = ["--model", "allukan"],
        ["stacked-kan"] = ["--model", "stacked-kan"],
    };

    public static Command Create()
    {
        var command = new Command("sweep", "Train a grid of runs (datasets × models × seeds) as independent 'ukan train' processes spread over the GPUs; resumable; ends with a mean ± sd table.");
        var data = new Option<string?>("--data") { Description = "Dataset folder (its folder name names it in the table)." };
        var datasets = new Option<string?>("--datasets") { Description = "Several datasets as name=path,name=path (instead of or beside --data)." };
        var seeds = new Option<string>("--seeds") { Description = "Split seeds (--data-seed of each run).", DefaultValueFactory = _ => "2981,6142,1187" };
        var models = new Option<string>("--models") { Description = $"Models: {string.Join(", ", Models.Keys)} (mlp = U-KAN with the MLP ablation).", DefaultValueFactory = _ => "ukan" };
        var perGpu = new Option<int>("--per-gpu") { Description = "Runs at a time on each GPU (on the CPU: runs at a time).", DefaultValueFactory = _ => 1 };
        var output = new Option<string?>("--out") { Description = "Sweep folder: one run folder per grid point (<dataset>-<model>-<seed>), logs/, sweep.csv, sweep.md." };
        foreach (var o in new Option[] { data, datasets, seeds, models, perGpu, output }) command.Options.Add(o);
        // The train options, defined once in TrainCommand: taken from a train command made for the purpose.
        var forwarded = TrainCommand.Create().Options.Where(o => !Owned.Contains(o.Name) && o.Name is not ("--help" or "-h")).ToList();
        foreach (var o in forwarded) command.Options.Add(o);
        var epochs = forwarded.OfType<Option<int?>>().Single(o => o.Name == "--epochs");

        command.SetAction(parsed =>
        {
            var outDir = parsed.GetValue(output) ?? throw new UserError("--out is required: the sweep's folder (run it again with the same --out to resume).");
            var sets = Datasets(parsed.GetValue(data), parsed.GetValue(datasets));
            var modelNames = List(parsed.GetValue(models)!, "--models");
            foreach (var m in modelNames)
                if (!Models.ContainsKey(m)) throw new UserError($"--models {parsed.GetValue(models)}: unknown model '{m}'; use {string.Join(", ", Models.Keys)}.");
            var seedValues = List(parsed.GetValue(seeds)!, "--seeds").Select(s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v
                : throw new UserError($"--seeds {parsed.GetValue(seeds)}: '{s}' is not an integer.")).ToList();
            int k = parsed.GetValue(perGpu);
            if (k < 1) throw new UserError($"--per-gpu {k}: must be at least 1.");
            int? epochCount = parsed.GetValue(epochs);
            SharedOptions.CheckResumeEpochs(epochCount);
            var inputs = sets.Select(s => (string?)s.Path).ToList();
            UKan.IO.RunDirectory.CheckSweep(outDir, inputs);

            var rt = CommandLine.StartTorch(parsed);
            bool cuda = rt.Device.type == TorchSharp.DeviceType.CUDA;
            var visible = Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES")?.Split(',', StringSplitOptions.TrimEntries);
            int gpus = cuda ? TorchSharp.torch.cuda.device_count() : 0;
            // One slot per concurrent run: K per GPU, or K on the CPU (each then gets its share of the cores).
            var slots = cuda
                ? Enumerable.Range(0, gpus).SelectMany(g => Enumerable.Repeat(g, k)).ToList()
                : Enumerable.Repeat(-1, k).ToList();
            var given = forwarded.Where(o => parsed.GetResult(o) is { Implicit: false })
                .SelectMany(o => new[] { o.Name }.Concat(parsed.GetResult(o)!.Tokens.Select(t => t.Value))).ToList();
            var global = new List<string>();
            if (parsed.GetValue(CommandLine.LibTorch) is string lib) global.AddRange(["--libtorch", lib]);
            global.AddRange(cuda ? ["--device", "cuda"]
                : ["--device", "cpu", "--threads", (parsed.GetValue(CommandLine.Threads) ?? Math.Max(1, Environment.ProcessorCount / k)).ToString(CultureInfo.InvariantCulture)]);

            var grid = SweepGrid.Make(sets, modelNames, seedValues, outDir);
            var todo = grid.Where(r => SweepGrid.StateOf(r, epochCount) != SweepGrid.State.Done).ToList();
            // The new runs' options, checked here once per dataset and model before any folder or process is made.
            foreach (var r in todo.Where(r => SweepGrid.StateOf(r, epochCount) == SweepGrid.State.New).DistinctBy(r => (r.DataPath, r.Model)))
                TrainCommand.CheckNewRun(ChildArgs(r, given, epochCount, [])[1..], rt.Device);
            Console.WriteLine($"sweep of {grid.Count} runs ({sets.Count} dataset(s) × {modelNames.Count} model(s) × {seedValues.Count} seed(s)) in {Path.GetFullPath(outDir)}: "
                + $"{grid.Count - todo.Count} done, {todo.Count} to train, {slots.Count} at a time {(cuda ? $"on {gpus} GPU(s)" : "on the CPU")}");
            using var sweepLock = UKan.IO.RunDirectory.OpenSweep(outDir, inputs);
            using var cancel = CommandLine.StopOnCtrlC("run (the runs under way stop at their next step)");
            int failed = RunAll(todo, slots, visible, r => ChildArgs(r, given, epochCount, global), Path.Combine(Path.GetFullPath(outDir), "logs"), cancel.Token);

            var summary = SweepGrid.Summarize(grid.Select(r => SweepGrid.ResultOf(r, epochCount)));
            var csv = Path.Combine(Path.GetFullPath(outDir), "sweep.csv");
            var md = Path.Combine(Path.GetFullPath(outDir), "sweep.md");
            UKan.AtomicFile.WriteAllText(csv, SweepGrid.ToCsv(summary));
            UKan.AtomicFile.WriteAllText(md, SweepGrid.ToMarkdown(summary, Path.GetFullPath(outDir)));
            var table = new TextTable("dataset", "model", "runs", "IoU mean ± sd", "Dice mean ± sd", "IoU per seed");
            foreach (var s in summary)
            {
                var (iou, iouSd) = SweepGrid.MeanSd(s.Ious);
                var (dice, diceSd) = SweepGrid.MeanSd(s.Dices);
                table.Add(s.Dataset, s.Model, $"{s.Ious.Count}/{s.Runs.Count}", $"{iou:F4} ± {iouSd:F4}", $"{dice:F4} ± {diceSd:F4}",
                    string.Join(' ', s.Runs.Select(r => $"{r.Run.Seed}:{(r.Iou is double v ? v.ToString("F4", CultureInfo.InvariantCulture) : "-")}")));
            }
            Console.Write(table.ToString());
            Console.WriteLine($"written: {csv}, {md}");
            if (cancel.IsCancellationRequested) { Console.WriteLine("stopped; run the same command again to continue."); return 130; }
            if (failed > 0) { Console.Error.WriteLine($"ukan: error: {failed} run(s) failed; their logs are in {Path.Combine(Path.GetFullPath(outDir), "logs")}; run the same command again to retry them."); return 1; }
            return 0;
        });
        return command;
    }

    static List<string> List(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToList();
        if (items.Count == 0) throw new UserError($"{option} {text}: give a comma-separated list.");
        if (items.Distinct().Count() != items.Count) throw new UserError($"{option} {text}: lists a value twice.");
        return items;
    }

    static List<(string Name, string Path)> Datasets(string? data, string? datasets)
    {
        var sets = new List<(string Name, string Path)>();
        if (data is not null) sets.Add((Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(data))), Path.GetFullPath(data)));
        if (datasets is not null)
            foreach (var item in List(datasets, "--datasets"))
            {
                var parts = item.Split('=', 2);
                if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0 || parts[0].IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
                    throw new UserError($"--datasets {datasets}: '{item}' is not name=path (a name usable in a folder name).");
                sets.Add((parts[0], Path.GetFullPath(parts[1])));
            }
        if (sets.Count == 0) throw new UserError("--data or --datasets is required.");
        foreach (var (name, path) in sets)
            if (!Directory.Exists(path)) throw new UserError($"dataset {name}: folder {path} not found.");
        if (sets.Select(s => s.Name).Distinct().Count() != sets.Count) throw new UserError("two datasets have the same name; name them with --datasets name=path.");
        return sets;
    }

    /// <summary>The 'ukan train' command line of one run: a start, or a resume of the run's folder.</summary>
    static List<string> ChildArgs(SweepGrid.Run run, IReadOnlyList<string> given, int? epochs, IReadOnlyList<string> global)
    {
        var args = new List<string> { "train" };
        if (SweepGrid.StateOf(run, epochs) == SweepGrid.State.Resume)
        {
            args.AddRange(["--resume", run.Folder]);
            if (epochs is int e) args.AddRange(["--epochs", e.ToString(CultureInfo.InvariantCulture)]);
        }
        else
        {
            args.AddRange(["--data", run.DataPath, "--out", run.Folder, "--data-seed", run.Seed.ToString(CultureInfo.InvariantCulture)]);
            args.AddRange(Models[run.Model]);
            args.AddRange(given);
        }
        args.AddRange(global);
        return args;
    }

    /// <summary>Runs the children, one per free slot, each logging to logs/&lt;run&gt;.log; returns how many failed.</summary>
    static int RunAll(IReadOnlyList<SweepGrid.Run> runs, IReadOnlyList<int> slots, string[]? visible, Func<SweepGrid.Run, List<string>> argsOf, string logs, CancellationToken cancel)
    {
        Directory.CreateDirectory(logs);
        var queue = new Queue<SweepGrid.Run>(runs);
        var free = new Queue<int>(Enumerable.Range(0, slots.Count));
        var running = new List<(Process Process, SweepGrid.Run Run, int Slot, Stopwatch Clock, StreamWriter Log)>();
        int failed = 0, started = 0;
        while (running.Count > 0 || (queue.Count > 0 && !cancel.IsCancellationRequested))
        {
            while (free.Count > 0 && queue.Count > 0 && !cancel.IsCancellationRequested)
            {
                var run = queue.Dequeue();
                int slot = free.Dequeue();
                var start = StartupReexec.SelfStart(argsOf(run)) ?? throw new UserError("cannot find how to start ukan again for the runs (no process path).");
                start.RedirectStandardOutput = start.RedirectStandardError = true;
                if (slots[slot] >= 0)
                    start.Environment["CUDA_VISIBLE_DEVICES"] = visible is { Length: > 0 } ? visible[slots[slot]] : slots[slot].ToString(CultureInfo.InvariantCulture);
                var log = new StreamWriter(Path.Combine(logs, run.Name + ".log"), append: true) { AutoFlush = true };
                log.WriteLine($"# {DateTime.Now:u} ukan {string.Join(' ', start.ArgumentList.Skip(start.FileName.EndsWith("dotnet") ? 1 : 0))}");
                var p = new Process { StartInfo = start };
                p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
                p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
                p.Start();
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                started++;
                Console.WriteLine($"[{started}/{runs.Count}] {run.Name} started {(slots[slot] >= 0 ? $"on GPU {slots[slot]}" : "on the CPU")}");
                running.Add((p, run, slot, Stopwatch.StartNew(), log));
            }
            foreach (var r in running.Where(r => r.Process.HasExited).ToList())
            {
                r.Process.WaitForExit();
                var result = SweepGrid.ResultOf(r.Run, null);
                var took = r.Clock.Elapsed;
                if (r.Process.ExitCode == 0)
                    Console.WriteLine($"{r.Run.Name} done in {took:hh\\:mm\\:ss}: best validation IoU {result.Iou:F4} at epoch {(result.BestEpoch ?? -1) + 1}");
                else if (r.Process.ExitCode == 130)
                    Console.WriteLine($"{r.Run.Name} stopped after {took:hh\\:mm\\:ss}; the next sweep call resumes it");
                else
                {
                    failed++;
                    Console.WriteLine($"{r.Run.Name} failed (exit code {r.Process.ExitCode}); log: {Path.Combine(logs, r.Run.Name + ".log")}");
                }
                r.Log.Dispose();
                r.Process.Dispose();
                free.Enqueue(r.Slot);
                running.Remove(r);
            }
            Thread.Sleep(200);
        }
        return failed;
    }
}
