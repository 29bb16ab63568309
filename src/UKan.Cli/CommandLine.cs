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

    public static readonly Option<long> MaxPixels = new("--max-pixels")
    {
        Description = $"Largest image (width × height) read; larger ones are refused before decoding (default {UKan.Data.ImageHeader.DefaultMaxPixels:N0}).",
        DefaultValueFactory = _ => UKan.Data.ImageHeader.DefaultMaxPixels,
        Recursive = true,
    };

    /// <summary>
    /// The one --overwrite of every command that writes files a user names: without it an existing file is never
    /// replaced (OutputGuard). Added to each such command, not global, so that --help shows it only where it applies.
    /// </summary>
    public static readonly Option<bool> Overwrite = new("--overwrite")
    {
        Description = "Replace existing output files (without it, a command that would replace a file refuses to start).",
    };

    static CommandLine() => Device.AcceptOnlyFromAmong("auto", "cpu", "cuda");

    public static RootCommand Build()
    {
        var root = new RootCommand("U-KAN for .NET: train, evaluate and deploy U-KAN and ALL U-KAN segmentation models and Diffusion U-KAN image generators.");
        root.Options.Add(Device);
        root.Options.Add(LibTorch);
        root.Options.Add(Threads);
        root.Options.Add(MaxPixels);
        foreach (var command in Commands.Registry.All()) root.Subcommands.Add(command);
        return root;
    }

    public static int Run(string[] args)
    {
        var root = Build();
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine($"ukan: error: {Readable(OneLine(parsed.Errors[0].Message))} (see 'ukan {string.Join(' ', CommandPath(parsed))} --help')");
            return 2;
        }
        if (EmptyValue(parsed) is string empty)
        {
            Console.Error.WriteLine($"ukan: error: {empty}: an empty value; give one or leave the option out (see 'ukan {string.Join(' ', CommandPath(parsed))} --help')");
            return 2;
        }
        try
        {
            CheckGlobalOptions(parsed);
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (Unwrap(e) is UserError u)
        {
            Console.Error.WriteLine($"ukan: error: {OneLine(u.Message)}");
            return 2;
        }
        catch (Exception e) when (Unwrap(e) is OperationCanceledException c)
        {
            Console.Error.WriteLine(c.Message.StartsWith("stopped") ? $"ukan: {c.Message}." : "ukan: stopped.");
            return 130;
        }
        catch (Exception e) when (Unwrap(e) is IOException or UnauthorizedAccessException)
        {
            // A file system refusal met while writing (disk full, permissions changed, a path taken meanwhile):
            // the user's to fix, and AtomicFile has left no partial file.
            Console.Error.WriteLine($"ukan: error: {OneLine(Unwrap(e).Message)} (a file system error: check the path, its permissions and the free space).");
            return 2;
        }
        catch (Exception e) when (OutOfMemory(Unwrap(e)) is string memory)
        {
            Console.Error.WriteLine($"ukan: error: the {memory} ran out of memory: {MemoryHint(parsed.CommandResult.Command)}stop what else uses it.");
            return 2;
        }
        catch (Exception e)
        {
            return ReportInternalError(args, e);
        }
    }

    /// <summary>
    /// A defect of ours or of a library: one line on standard error, the whole trace in a file of the temporary folder
    /// for the report; <see cref="InternalError"/>.
    /// </summary>
    internal static int ReportInternalError(string[] args, Exception e)
    {
        var inner = Unwrap(e);
        var details = Path.Combine(Path.GetTempPath(), $"ukan-error-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Environment.ProcessId}.txt");
        try { AtomicFile.WriteAllText(details, $"ukan {string.Join(' ', args)}\n\n{e}\n"); }
        catch (Exception write) when (write is IOException or UnauthorizedAccessException) { details = "(could not be written)"; }
        Console.Error.WriteLine($"ukan: internal error: {OneLine(inner.Message)} ({inner.GetType().Name}); the details are in {details}; please report it.");
        return InternalError;
    }

    /// <summary>The exit code of an unexpected failure (sysexits' EX_SOFTWARE), apart from 2 for what the user can fix.</summary>
    public const int InternalError = 70;

    /// <summary>
    /// What to make smaller after running out of memory, from the options <paramref name="command"/> has (e.g.
    /// "use a smaller --batch or --size, or "); empty where it has neither.
    /// </summary>
    internal static string MemoryHint(System.CommandLine.Command command)
    {
        var names = new[] { "--batch", "--size" }.Where(n => command.Options.Any(o => o.Name == n || o.Aliases.Contains(n))).ToArray();
        return names.Length == 0 ? "" : $"use a smaller {string.Join(" or ", names)}, or ";
    }

    /// <summary>"GPU" or "host" when <paramref name="e"/> is an allocation that failed, as libtorch and .NET report it; else null.</summary>
    internal static string? OutOfMemory(Exception e) => e switch
    {
        OutOfMemoryException => "host",
        System.Runtime.InteropServices.ExternalException when e.Message.Contains("CUDA out of memory", StringComparison.OrdinalIgnoreCase) => "GPU",
        System.Runtime.InteropServices.ExternalException when e.Message.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase) => "host",
        _ => null,
    };

    /// <summary>
    /// The error inside parallel work (Parallel.For wraps what its bodies throw in AggregateException) or a
    /// reflection call: the first user error if there is one, else the first error.
    /// </summary>
    static Exception Unwrap(Exception e)
    {
        if (e is System.Reflection.TargetInvocationException { InnerException: { } inner }) return Unwrap(inner);
        if (e is not AggregateException aggregate) return e;
        var all = aggregate.Flatten().InnerExceptions.Select(Unwrap).ToList();
        return all.FirstOrDefault(x => x is UserError) ?? all.FirstOrDefault(x => x is OperationCanceledException) ?? all.FirstOrDefault() ?? e;
    }

    /// <summary>Global options, checked before any command runs (a thread count of 0 aborts inside libtorch).</summary>
    static void CheckGlobalOptions(ParseResult parsed)
    {
        if (parsed.GetValue(Threads) is int t && t is < 1 or > 4096)
            throw new UserError($"--threads {t}: must be between 1 and 4096 (default: all cores).");
        long maxPixels = parsed.GetValue(MaxPixels);
        if (maxPixels < 1) throw new UserError($"--max-pixels {maxPixels}: must be at least 1.");
        UKan.Data.ImageHeader.MaxPixels = maxPixels;
    }

    /// <summary>
    /// The option (or argument) given an empty or blank value, e.g. <c>--weights ""</c> from an unset shell variable,
    /// else null. No option of ours means anything by it, and a path option would fail deep inside .NET.
    /// </summary>
    static string? EmptyValue(ParseResult parsed)
    {
        for (var r = parsed.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
        {
            foreach (var option in r.Command.Options)
                if (parsed.GetResult(option) is { } o && o.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value))) return option.Name;
            foreach (var argument in r.Command.Arguments)
                if (parsed.GetResult(argument) is { } a && a.Tokens.Any(t => string.IsNullOrWhiteSpace(t.Value))) return $"<{argument.Name}>";
        }
        return null;
    }

    /// <summary>
    /// The parser's message with the .NET type it wanted said in words: "... for option '--folds' as a whole number
    /// from -2147483648 to 2147483647" rather than "as expected type 'System.Nullable`1[System.Int32]'".
    /// </summary>
    internal static string Readable(string message) => System.Text.RegularExpressions.Regex.Replace(message,
        @"as expected type '(?:System\.Nullable`1\[)?System\.(\w+)\]?'", m => m.Groups[1].Value switch
        {
            "Int32" => $"as a whole number from {int.MinValue} to {int.MaxValue}",
            "Int64" => $"as a whole number from {long.MinValue} to {long.MaxValue}",
            "Single" or "Double" => "as a number (e.g. 0.5 or 1e-4)",
            "Boolean" => "as true or false",
            _ => m.Value,
        });

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
    /// A token that the first Ctrl+C or SIGTERM cancels, so that a long run stops at its next checkpoint boundary
    /// (<paramref name="boundary"/>: "step", "epoch") with nothing lost and its run folder unlocked; a second one ends
    /// the process. Disposing it removes the handlers.
    /// </summary>
    public static CancellationTokenSource StopOnCtrlC(string boundary) => new StopSignal(boundary);

    /// <summary>Starts torch as the global options ask; every command that computes calls this first.</summary>
    public static RuntimeInfo StartTorch(ParseResult parsed)
    {
        var device = parsed.GetValue(Device) switch { "cpu" => DeviceRequest.Cpu, "cuda" => DeviceRequest.Cuda, _ => DeviceRequest.Auto };
        // A data-parallel worker runs on the kind of device its supervisor chose (its GPU is then its device 0).
        if (UKan.Training.Distributed.WorkerEnvironment.Current() is { } worker) device = worker.Cuda ? DeviceRequest.Cuda : DeviceRequest.Cpu;
        bool first = !TorchRuntime.IsInitialized;
        var rt = TorchRuntime.Initialize(new RuntimeOptions(device, parsed.GetValue(LibTorch), parsed.GetValue(Threads)));
        if (first && rt.CpuConvolutions is { Warn: true } conv) Console.Error.WriteLine($"ukan: warning: {conv.Reason}");
        return rt;
    }
}
