using System.Globalization;

namespace UKan.IO;

/// <summary>
/// A new (or empty) output folder that appears only when the command has written all of it: the command writes into
/// a hidden staging folder beside it (<see cref="Staging"/>), which <see cref="Commit"/> renames to the folder. A
/// command that fails, is stopped with Ctrl-C or is killed half-way therefore leaves no half-written dataset that a
/// later command could take as complete, and nothing that blocks the rerun ("not empty"). Disposing without
/// <see cref="Commit"/> removes the staging folder; one left by a killed process (its PID gone from this host) is
/// removed by the next command that writes the same folder.
/// </summary>
public sealed class FreshFolder : IDisposable
{
    const string StagingTag = ".ukan-partial.";

    /// <summary>The output folder (full path); it exists, complete, only after <see cref="Commit"/>.</summary>
    public string Path { get; }

    /// <summary>Where the command writes until <see cref="Commit"/>.</summary>
    public string Staging { get; }

    readonly string given, label;
    bool done;

    FreshFolder(string path, string staging, string given, string label) => (Path, Staging, this.given, this.label) = (path, staging, given, label);

    /// <summary>
    /// Checks <paramref name="path"/> (<see cref="OutputGuard.CheckFolder"/>), requires it new or empty, and creates
    /// the staging folder beside it.
    /// </summary>
    public static FreshFolder Create(string path, string label, IEnumerable<string?> inputs)
    {
        var full = System.IO.Path.TrimEndingDirectorySeparator(OutputGuard.CheckFolder(path, label, inputs));
        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
            throw new UserError($"{label} {path}: not empty; choose a new folder or empty it first.");
        var parent = System.IO.Path.GetDirectoryName(full)
                     ?? throw new UserError($"{label} {path}: the root folder cannot be an output; give a folder below it.");
        var name = System.IO.Path.GetFileName(full);
        RemoveStale(parent, name);
        var staging = System.IO.Path.Combine(parent, $".{name}{StagingTag}{Environment.MachineName}.{Environment.ProcessId}.{Guid.NewGuid():N}");
        OutputGuard.CreateFolder(staging, path, label);
        return new FreshFolder(full, staging, path, label);
    }

    /// <summary>The output is complete: the staging folder becomes the output folder.</summary>
    public void Commit()
    {
        try
        {
            // An empty folder the user made for the output is replaced by the staging folder (rename cannot merge).
            if (Directory.Exists(Path)) Directory.Delete(Path);
            Directory.Move(Staging, Path);
        }
        catch (IOException) when (Directory.Exists(Path))
        {
            // Another process wrote the folder meanwhile (e.g. the same command started twice): its output stands.
            throw new UserError($"{label} {given}: another process filled it while this one was writing; nothing of this run was kept. " +
                                "Choose another folder, or empty it and run again.");
        }
        done = true;
    }

    public void Dispose()
    {
        if (done) return;
        done = true;
        try { if (Directory.Exists(Staging)) Directory.Delete(Staging, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* best effort: the original error matters more */ }
    }

    /// <summary>Removes staging folders for <paramref name="name"/> that killed processes of this host left.</summary>
    static void RemoveStale(string parent, string name)
    {
        if (!Directory.Exists(parent)) return;
        var prefix = $".{name}{StagingTag}{Environment.MachineName}.";
        foreach (var dir in Directory.EnumerateDirectories(parent, $".{name}{StagingTag}*"))
        {
            var leaf = System.IO.Path.GetFileName(dir);
            var rest = leaf.StartsWith(prefix, StringComparison.Ordinal) ? leaf[prefix.Length..] : "";
            if (!int.TryParse(rest.Split('.')[0], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                || LocalProcess.IsRunning(pid)) continue;
            try { Directory.Delete(dir, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* another process removes it */ }
        }
    }
}
