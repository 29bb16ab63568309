namespace UKan.IO;

/// <summary>
/// A new (or empty) output folder that is removed again when the command fails before <see cref="Commit"/>: a
/// half-written dataset copy would otherwise block the rerun ("not empty") and could be mistaken for a complete one.
/// </summary>
public sealed class FreshFolder : IDisposable
{
    public string Path { get; }
    readonly bool created;
    bool committed;

    FreshFolder(string path, bool created) => (Path, this.created) = (path, created);

    /// <summary>Checks <paramref name="path"/> (<see cref="OutputGuard.CheckFolder"/>), requires it new or empty, and creates it.</summary>
    public static FreshFolder Create(string path, string label, IEnumerable<string?> inputs)
    {
        var full = OutputGuard.CheckFolder(path, label, inputs);
        bool exists = Directory.Exists(full);
        if (exists && Directory.EnumerateFileSystemEntries(full).Any())
            throw new UserError($"{label} {path}: not empty; choose a new folder or empty it first.");
        OutputGuard.CreateFolder(full, path, label);
        return new FreshFolder(full, !exists);
    }

    /// <summary>The output is complete: keep it.</summary>
    public void Commit() => committed = true;

    public void Dispose()
    {
        if (committed) return;
        committed = true;
        try
        {
            if (created) Directory.Delete(Path, recursive: true);
            else foreach (var entry in Directory.EnumerateFileSystemEntries(Path))
                if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true); else File.Delete(entry);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* best effort: the original error matters more */ }
    }
}
