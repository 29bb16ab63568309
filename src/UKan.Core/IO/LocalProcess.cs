using System.Diagnostics;

namespace UKan.IO;

/// <summary>Whether a process of this host still runs: for leftovers named by the PID that made them.</summary>
internal static class LocalProcess
{
    /// <summary>True while a process with <paramref name="pid"/> runs here (a reused PID counts as running: nothing is removed then).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return false; }
    }
}
