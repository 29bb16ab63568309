using System.CommandLine;
using UKan.Cli.Commands;
using UKan.Native;

namespace UKan.Cli;

/// <summary>The <c>ukan</c> command tree, global options and the one rule for errors: one line, exit code 2.</summary>
static class CommandLine
{
    public static readonly Option<string> Device = new("--device")
    {
        Description = "Where to compute: auto (GPU if a CUDA libtorch and a GPU are found), cpu or cuda.",
        DefaultValueFactory = _ => "auto",
        Recursive = true,
    };

    public static readonly Option<string?> LibTorch = new("--libtorch")
    {
        Description = "Folder of an existing libtorch (e.g. an installed PyTorch's torch/lib) to use instead of the bundled CPU build. Also: UKAN_LIBTORCH.",
        Recursive = true,
    };

    public static readonly Option<int?> Threads = new("--threads")
    {
        Description = "CPU threads for torch (default: all cores).",
        Recursive = true,
    };

    static CommandLine() => Device.AcceptOnlyFromAmong("auto", "cpu", "cuda");

    public static RootCommand Build()
    {
        var root = new RootCommand("U-KAN for .NET: train, evaluate and deploy U-KAN and ALL U-KAN segmentation models and Diffusion U-KAN image generators.");
        root.Options.Add(Device);
        root.Options.Add(LibTorch);
        root.Options.Add(Threads);
        foreach (var command in Commands.Registry.All()) root.Subcommands.Add(command);
        return root;
    }

    public static int Run(string[] args)
    {
        var root = Build();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"ukan: error: {OneLine(parsed.Errors[0].Message)} (see 'ukan {string.Join(' ', CommandPath(parsed))} --help')");
            return 2;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (UserError e)
        {
            Console.Error.WriteLine($"ukan: error: {OneLine(e.Message)}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("ukan: stopped.");
            return 130;
        }
    }

    /// <summary>Collapses a multi-line message (the parser lists allowed values on lines of their own).</summary>
    public static string OneLine(string message) =>
        string.Join(' ', message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim()));

    static IEnumerable<string> CommandPath(ParseResult parsed)
    {
        var names = new List<string>();
        for (var r = parsed.CommandResult; r is not null && r.Command is not RootCommand; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return names;
    }

    /// <summary>
    /// A token that the first Ctrl+C cancels, so that a long run stops at its next checkpoint boundary
    /// (<paramref name="boundary"/>: "step", "epoch") with nothing lost; a second Ctrl+C ends the process.
    /// </summary>
    public static CancellationTokenSource StopOnCtrlC(string boundary)
    {
        var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            if (cancel.IsCancellationRequested) return;
            e.Cancel = true;
            cancel.Cancel();
            Console.Error.WriteLine($"ukan: stopping after this {boundary} (Ctrl+C again to abort)…");
        };
        return cancel;
    }

    /// <summary>Starts torch as the global options ask; every command that computes calls this first.</summary>
    public static RuntimeInfo StartTorch(ParseResult parsed)
    {
        var device = parsed.GetValue(Device) switch { "cpu" => DeviceRequest.Cpu, "cuda" => DeviceRequest.Cuda, _ => DeviceRequest.Auto };
        bool first = !TorchRuntime.IsInitialized;
        var rt = TorchRuntime.Initialize(new RuntimeOptions(device, parsed.GetValue(LibTorch), parsed.GetValue(Threads)));
        if (first && rt.CpuConvolutions is { Warn: true } conv) Console.Error.WriteLine($"ukan: warning: {conv.Reason}");
        return rt;
    }
}
