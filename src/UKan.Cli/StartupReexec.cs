using System.Diagnostics;
using System.Runtime.InteropServices;
using UKan.Native;

namespace UKan.Cli;

/// <summary>
/// Settings that only take effect at process start: glibc reads GLIBC_TUNABLES (<see cref="MallocTuning"/>) and
/// oneDNN reads ONEDNN_MAX_CPU_ISA (<see cref="OneDnnIsa"/>) once. When either is missing from the environment, the
/// process re-executes itself once with both set, and waits for the child.
/// </summary>
/// <remarks>
/// One re-exec at most: the child runs with <see cref="GuardVariable"/> set and never re-executes, whatever its
/// environment says; the oneDNN limit is decided in the parent before the re-exec (from the per-machine cache, or
/// by probe processes the first time), so the child does not need to try again.
/// </remarks>
static class StartupReexec
{
    public const string GuardVariable = "UKAN_REEXECED";

    /// <returns>The child's exit code after a re-exec, or null when this process should do the work itself.</returns>
    public static int? TryReexec(string[] args)
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(GuardVariable) == "1") return null;
        var isa = UsesTorch(args) ? PlanOneDnnIsa() : null;
        var changes = Changes(Environment.GetEnvironmentVariable, isa);
        if (changes is null) return null;
        var start = SelfStart(args);
        if (start is null) return null;
        foreach (var (key, value) in changes) start.Environment[key] = value;

        // Ctrl+C reaches the child through the terminal's process group; the parent just waits for it.
        Console.CancelKeyPress += (_, e) => e.Cancel = true;
        try
        {
            using var child = Process.Start(start);
            if (child is null) return null;
            // SIGTERM (kill, systemd, container stops) is sent to this process only: pass it on, so that the child
            // stops as it would have (a training run at its next boundary, ukan serve after its requests in flight).
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                _ = SendSignal(child.Id, SigTerm);
            });
            child.WaitForExit();
            return child.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }

    /// <summary>
    /// The variables to set in a re-executed child, or null when none is needed or this process is such a child
    /// (<see cref="GuardVariable"/>): never a second re-exec.
    /// </summary>
    public static Dictionary<string, string>? Changes(Func<string, string?> env, OneDnnIsa.Choice? isa)
    {
        if (env(GuardVariable) == "1") return null;
        var changes = new Dictionary<string, string>();
        var tunables = env(MallocTuning.Variable) ?? "";
        if (!MallocTuning.IsActive(tunables) && env(MallocTuning.OptOutVariable) != "1")
            changes[MallocTuning.Variable] = MallocTuning.Merge(tunables);
        if (isa?.Isa is { } limit && env(OneDnnIsa.IsaVariable) != limit)
        {
            changes[OneDnnIsa.IsaVariable] = limit;
            changes[OneDnnIsa.SourceVariable] = isa.Why;
        }
        if (changes.Count == 0) return null;
        changes[GuardVariable] = "1";
        return changes;
    }

    /// <summary>Help and version requests start no torch: no oneDNN decision (and no probe processes) for them.</summary>
    static bool UsesTorch(string[] args) =>
        args.Length > 0 && !args.Any(a => a is "-h" or "--help" or "-?" or "/?" or "--version");

    static OneDnnIsa.Choice? PlanOneDnnIsa()
    {
        try
        {
            var cache = OneDnnIsa.CachePath(OneDnnIsa.DefaultLibTorchDir());
            return OneDnnIsa.Plan(Environment.GetEnvironmentVariable, () => OneDnnIsa.ReadCached(cache),
                OneDnnIsa.Candidates(OneDnnIsa.CpuFlags()), ProbeInChild, decision => OneDnnIsa.Store(cache, decision));
        }
        catch (UserError e)
        {
            // A bad UKAN_ONEDNN_ISA: the same one-line error as the app's others, before anything runs.
            Console.Error.WriteLine($"ukan: error: {e.Message}");
            Environment.Exit(2);
            return null;
        }
    }

    static bool announced;

    /// <summary>Runs the convolution probe in a fresh process under the limit <paramref name="isa"/>; null when it could not run.</summary>
    static bool? ProbeInChild(string isa)
    {
        if (!announced)
        {
            Console.Error.WriteLine("ukan: checking oneDNN's CPU convolutions on this machine (once; the answer is cached)...");
            announced = true;
        }
        var start = SelfStart([]);
        if (start is null) return null;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.Environment[OneDnnIsa.ProbeChildVariable] = "1";
        start.Environment[CpuConvolutions.Variable] = "on";   // the child must not fall back by itself
        start.Environment[GuardVariable] = "1";
        start.Environment.Remove(OneDnnIsa.SourceVariable);
        if (isa == OneDnnIsa.NoLimit) start.Environment.Remove(OneDnnIsa.IsaVariable);
        else start.Environment[OneDnnIsa.IsaVariable] = isa;
        try
        {
            using var child = Process.Start(start);
            if (child is null) return null;
            var output = child.StandardOutput.ReadToEndAsync();
            _ = child.StandardError.ReadToEndAsync();
            if (!child.WaitForExit(TimeSpan.FromMinutes(2))) { child.Kill(true); return null; }
            return child.ExitCode switch { 0 => true, 1 => false, _ => null };
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }

    const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int SendSignal(int pid, int signal);

    /// <summary>
    /// How to start this app again: the same executable, or under "dotnet ukan.dll" the host with the dll again; when
    /// ukan runs inside another program (the tests), "dotnet ukan.dll".
    /// </summary>
    internal static ProcessStartInfo? SelfStart(IEnumerable<string> args)
    {
        var exe = Environment.ProcessPath;
        if (exe is null) return null;
        var cli = typeof(StartupReexec).Assembly;
        bool hosted = System.Reflection.Assembly.GetEntryAssembly() != cli;
        if (hosted) exe = "dotnet";
        var start = new ProcessStartInfo(exe) { UseShellExecute = false };
        if (hosted || Path.GetFileNameWithoutExtension(exe) == "dotnet") start.ArgumentList.Add(cli.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        return start;
    }
}
