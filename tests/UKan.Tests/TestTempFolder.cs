using System.Runtime.CompilerServices;

namespace UKan.Tests;

/// <summary>
/// One temporary folder per test process, removed when the process exits: every test's scratch files (datasets, runs,
/// checkpoints, the CLI's and dotnet's own temporary files in child processes) land inside it, because TMPDIR points
/// there before the first test runs and <see cref="Path.GetTempPath"/> and child processes read TMPDIR.
/// </summary>
/// <remarks>
/// Without it the suite left ~220 folders (~360 MB) in /tmp per run; a CI machine's disk is small. A folder left by a
/// test process that was killed (no exit handler ran) is removed by the next run, once its process is gone.
/// </remarks>
static class TestTempFolder
{
    const string Prefix = "ukan-test-run-";

    public static string Path { get; private set; } = "";

    [ModuleInitializer]
    internal static void Create()
    {
        var system = System.IO.Path.GetTempPath();
        RemoveOrphans(system);
        Path = System.IO.Path.Combine(system, $"{Prefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
        Environment.SetEnvironmentVariable("TMPDIR", Path);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(Path);
    }

    /// <summary>Folders of earlier test processes that no longer run (a killed run cannot clean up after itself).</summary>
    static void RemoveOrphans(string system)
    {
        foreach (var folder in Directory.EnumerateDirectories(system, Prefix + "*"))
        {
            var name = System.IO.Path.GetFileName(folder)[Prefix.Length..];
            var dash = name.IndexOf('-');
            if (dash > 0 && int.TryParse(name[..dash], out var pid) && !UKan.IO.LocalProcess.IsRunning(pid)) TryDelete(folder);
        }
    }

    static void TryDelete(string folder)
    {
        try { Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
