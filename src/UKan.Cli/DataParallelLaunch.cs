using System.CommandLine;
using System.Globalization;
using UKan.Native;
using UKan.Training.Distributed;

namespace UKan.Cli;

/// <summary>
/// The supervising side of <c>--gpus N</c> / <c>--devices LIST</c>: checks the devices, makes the rendezvous (an
/// NCCL unique id, or a loopback port for CPU workers), starts one <c>ukan</c> worker per device with the same
/// command line and the worker variables (<see cref="WorkerEnvironment"/>), and watches them (<see cref="WorkerSupervisor"/>).
/// Each GPU worker sees only its GPU (CUDA_VISIBLE_DEVICES), as its device 0; NVLink multicast (NVLS) stays off
/// unless NCCL_NVLS_ENABLE is set.
/// </summary>
static class DataParallelLaunch
{
    /// <summary>The devices asked for, as "cuda:K" or "cpu"; null when neither option was given.</summary>
    public static IReadOnlyList<string>? Requested(int? gpus, string? devices)
    {
        if (gpus is not null && devices is not null) throw new UserError("--gpus and --devices both given; use one (--gpus N takes the first N GPUs).");
        if (gpus is int n)
        {
            if (n < 1) throw new UserError($"--gpus {n}: must be at least 1.");
            return Enumerable.Range(0, n).Select(i => $"cuda:{i}").ToList();
        }
        if (devices is null) return null;
        var list = devices.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(d => d == "cuda" ? "cuda:0" : d.ToLowerInvariant()).ToList();
        if (list.Count == 0) throw new UserError($"--devices {devices}: give a comma-separated list such as cuda:0,cuda:1.");
        foreach (var d in list)
            if (d != "cpu" && !(d.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(d[5..], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                throw new UserError($"--devices {devices}: '{d}' is not a device; use cuda:K or cpu.");
        if (list.Select(d => d == "cpu").Distinct().Count() > 1) throw new UserError($"--devices {devices}: mixes CPU and GPUs; use one kind.");
        if (list[0] != "cpu" && list.Distinct().Count() != list.Count) throw new UserError($"--devices {devices}: a GPU is listed twice.");
        return list;
    }

    /// <summary>True when the devices need worker processes: several, or one other than the first GPU (which this process can use itself).</summary>
    public static bool NeedsWorkers(IReadOnlyList<string>? devices) => devices is { Count: > 1 } || devices is [not "cuda:0"];

    /// <summary>
    /// For a training command: when <paramref name="gpus"/> / <paramref name="devices"/> ask for worker processes and
    /// this process is not one, starts and supervises them and returns the exit code; otherwise null (train here).
    /// <paramref name="extraArgs"/> are added to every worker's command line (a new run's folder, fixed once).
    /// </summary>
    public static int? SuperviseIfAsked(ParseResult parsed, Option<int?> gpus, Option<string?> devices, Func<IReadOnlyList<string>> extraArgs)
    {
        var requested = Requested(parsed.GetValue(gpus), parsed.GetValue(devices));
        if (WorkerEnvironment.Current() is not null || !NeedsWorkers(requested)) return null;
        using var stop = CommandLine.StopOnCtrlC("group of steps");
        Console.WriteLine($"data-parallel training on {requested!.Count} devices ({string.Join(", ", requested)}), one worker process each");
        return Supervise(parsed, requested, extraArgs(), stop.Token);
    }

    /// <summary>
    /// This process's part in training: alone (stopped by Ctrl+C or SIGTERM at <paramref name="boundary"/>), or as a
    /// worker (stopped by its supervisor, joined to the others; call after torch has started).
    /// </summary>
    public static (CancellationTokenSource Stop, DataParallel? Parallel) Join(string boundary)
    {
        var worker = WorkerEnvironment.Current();
        if (worker is null) return (CommandLine.StopOnCtrlC(boundary), null);
        var stop = new StopChannel(Console.In);
        return (stop, new DataParallel(worker.Connect()));
    }

    /// <summary>Starts and supervises the workers; returns the exit code (printing the one-line reason when a worker failed).</summary>
    public static int Supervise(ParseResult parsed, IReadOnlyList<string> devices, IReadOnlyList<string> extraArgs, CancellationToken stop)
    {
        bool cuda = devices[0] != "cpu";
        string rendezvous;
        var visible = Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES")?.Split(',', StringSplitOptions.TrimEntries);
        if (cuda)
        {
            var rt = CommandLine.StartTorch(parsed);
            if (rt.Device.type != TorchSharp.DeviceType.CUDA)
                throw new UserError($"--gpus/--devices {string.Join(',', devices)}: no CUDA device is usable here (ukan info shows why); use --devices cpu,cpu to try the CPU path.");
            int count = TorchSharp.torch.cuda.device_count();
            var missing = devices.Select(d => int.Parse(d[5..], CultureInfo.InvariantCulture)).Where(i => i >= count).ToList();
            if (missing.Count > 0) throw new UserError($"--gpus/--devices: cuda:{missing[0]} does not exist; this machine shows {count} GPU(s).");
            if (devices.Count > 1) rendezvous = "nccl:" + Nccl.NewUniqueId();
            else rendezvous = "tcp:" + TcpCollectives.FreeLoopbackEndpoint();
        }
        else rendezvous = "tcp:" + TcpCollectives.FreeLoopbackEndpoint();

        var args = parsed.Tokens.Select(t => t.Value).Concat(extraArgs).ToList();
        // CPU workers share the cores instead of each taking all of them.
        if (!cuda && parsed.GetValue(CommandLine.Threads) is null)
            args.AddRange(["--threads", Math.Max(1, Environment.ProcessorCount / devices.Count).ToString(CultureInfo.InvariantCulture)]);
        var workers = new List<WorkerSupervisor.Worker>();
        for (int rank = 0; rank < devices.Count; rank++)
        {
            var start = StartupReexec.SelfStart(args) ?? throw new UserError("cannot find how to start ukan again for the workers (no process path).");
            foreach (var (key, value) in new WorkerEnvironment(rank, devices.Count, rendezvous, cuda).Variables()) start.Environment[key] = value;
            if (cuda)
            {
                int index = int.Parse(devices[rank][5..], CultureInfo.InvariantCulture);
                start.Environment["CUDA_VISIBLE_DEVICES"] = visible is { Length: > 0 } ? visible[index] : index.ToString(CultureInfo.InvariantCulture);
                if (Environment.GetEnvironmentVariable("NCCL_NVLS_ENABLE") is null) start.Environment["NCCL_NVLS_ENABLE"] = "0";
            }
            workers.Add(new WorkerSupervisor.Worker($"{rank} ({devices[rank]})", start));
        }
        var outcome = new WorkerSupervisor().Run(workers, stop);
        if (outcome.Failure is not null) Console.Error.WriteLine($"ukan: error: {outcome.Failure}.");
        return outcome.ExitCode;
    }
}
