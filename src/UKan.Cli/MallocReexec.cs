using System.Diagnostics;
using UKan.Native;

namespace UKan.Cli;

/// <summary>Restarts the process once with GLIBC_TUNABLES set, when it is missing (see <see cref="MallocTuning"/>).</summary>
static class MallocReexec
{
    const string GuardVariable = "UKAN_REEXECED";

    /// <returns>The child's exit code after a re-exec, or null when this process should do the work itself.</returns>
    public static int? TryReexec(string[] args)
    {
        if (!OperatingSystem.IsLinux() || MallocTuning.IsActive() || MallocTuning.OptedOut) return null;
        if (Environment.GetEnvironmentVariable(GuardVariable) == "1") return null; // never loop
        var exe = Environment.ProcessPath;
        if (exe is null) return null;

        var start = new ProcessStartInfo(exe) { UseShellExecute = false };
        // Under "dotnet ukan.dll" the host is the process; pass the app's dll on again.
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
            start.ArgumentList.Add(typeof(MallocReexec).Assembly.Location);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment[MallocTuning.Variable] = MallocTuning.Merge(Environment.GetEnvironmentVariable(MallocTuning.Variable));
        start.Environment[GuardVariable] = "1";

        // Ctrl+C reaches the child through the terminal's process group; the parent just waits for it.
        Console.CancelKeyPress += (_, e) => e.Cancel = true;
        try
        {
            using var child = Process.Start(start);
            if (child is null) return null;
            child.WaitForExit();
            return child.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}
