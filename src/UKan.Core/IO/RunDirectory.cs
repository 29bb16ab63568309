using System.Text.Json;

namespace UKan.IO;

/// <summary>
/// Run folders (of <c>ukan train</c> and <c>ukan diffusion train</c>): recognised by their marker file
/// <c>.ukan-run</c> (JSON: kind, creation time), written when the run is created. Anything else is not a run folder
/// and is never written into by train. Runs made before the marker existed (config.json and a checkpoint) are
/// recognised too and get the marker when resumed. A run folder is used under a <see cref="RunLock"/>.
/// </summary>
public static class RunDirectory
{
    public const string MarkerName = ".ukan-run";
    public const string Segmentation = "segmentation";
    public const string Diffusion = "diffusion";
    /// <summary>A <c>ukan cv</c> folder: its settings, splits, summaries and one segmentation run per fold.</summary>
    public const string CrossValidation = "cross-validation";
    /// <summary>A <c>ukan sweep</c> folder: one segmentation run per grid point, logs/, sweep.csv and sweep.md.</summary>
    public const string Sweep = "sweep";

    /// <summary>The files a run keeps directly in its folder; no other command may write them.</summary>
    public static readonly IReadOnlySet<string> OwnFiles = new HashSet<string>(StringComparer.Ordinal)
    {
        MarkerName, RunLock.FileName, "config.json", "split.json", "dataset_fingerprint.json", "metrics.csv", "model.safetensors",
        "last.safetensors", "curves.png", "overlays_best.png", "cv.json", "splits.json", "cv_summary.json", "cv_summary.csv",
        "cv_summary.md",
    };

    /// <summary>
    /// The folders a run keeps its checkpoints, TensorBoard events and sample grids in: everything in them is the
    /// run's (a resumed run reads checkpoints/last.safetensors), and no other command may write there.
    /// </summary>
    public static readonly IReadOnlySet<string> OwnFolders =
        new HashSet<string>(StringComparer.Ordinal) { "checkpoints", "events", "samples" };

    public static bool IsRun(string folder) => File.Exists(Path.Combine(folder, MarkerName));

    /// <summary>The kind in the marker (segmentation, diffusion); for a run made before markers, guessed from its files.</summary>
    public static string? Kind(string folder)
    {
        var marker = Path.Combine(folder, MarkerName);
        if (File.Exists(marker))
        {
            try { return JsonDocument.Parse(File.ReadAllText(marker)).RootElement.GetProperty("kind").GetString(); }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or IOException) { return null; }
        }
        if (!File.Exists(Path.Combine(folder, "config.json"))) return null;
        if (Directory.Exists(Path.Combine(folder, "checkpoints"))) return Segmentation;
        if (File.Exists(Path.Combine(folder, "last.safetensors"))) return Diffusion;
        return null;
    }

    static string Verb(string kind) => kind switch
    {
        Diffusion => "ukan diffusion train",
        CrossValidation => "ukan cv",
        Sweep => "ukan sweep",
        _ => "ukan train",
    };

    /// <summary>
    /// Checks, writing nothing, that <paramref name="root"/> may be a sweep's folder: new, empty, a sweep folder (its
    /// marker), or one that a sweep made before sweeps had a marker (only run folders, logs/, sweep.csv and
    /// sweep.md). Anything else could hold files of the user's that the sweep would add to or replace.
    /// </summary>
    public static string CheckSweep(string root, IEnumerable<string?> inputs)
    {
        var full = OutputGuard.CheckFolder(Path.GetFullPath(root), "--out", inputs);
        switch (Kind(full))
        {
            case Sweep: break;
            case string other:
                throw new UserError($"--out {root}: holds a {other} run; a sweep folder holds one run folder per grid point: choose another --out.");
            case null when Directory.Exists(full) && !IsUnmarkedSweep(full):
                throw new UserError($"--out {root}: not empty and not a sweep folder (no {MarkerName}); choose a new or empty folder, so that no file of yours is replaced.");
        }
        return full;
    }

    /// <summary>Creates (or reopens) the sweep folder that <see cref="CheckSweep"/> accepted, marks it and locks it for the sweep.</summary>
    public static RunLock OpenSweep(string root, IEnumerable<string?> inputs)
    {
        var full = CheckSweep(root, inputs);
        OutputGuard.CreateFolder(full, root, "--out");
        var runLock = RunLock.Acquire(full, "--out");
        try
        {
            if (!IsRun(full)) WriteMarker(full, Sweep);
            // Temporaries of the sweep's own files only: its run folders have locks of their own.
            foreach (var file in Directory.EnumerateFiles(full, ".*.tmp")) File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            runLock.Dispose();
            throw new UserError($"--out {root}: cannot write there ({e.Message}).");
        }
        return runLock;
    }

    /// <summary>
    /// Whether <paramref name="folder"/> is empty, or holds the logs/ folder that every sweep makes first and nothing
    /// but what a sweep writes.
    /// </summary>
    static bool IsUnmarkedSweep(string folder) =>
        !Directory.EnumerateFileSystemEntries(folder).Any()
        || (Directory.Exists(Path.Combine(folder, "logs")) && Directory.EnumerateFileSystemEntries(folder).All(e => Path.GetFileName(e) switch
        {
            "logs" => Directory.Exists(e),
            RunLock.FileName or "sweep.csv" or "sweep.md" => File.Exists(e),
            _ => Directory.Exists(e) && Kind(e) is not null,
        }));

    /// <summary>
    /// Makes <paramref name="root"/> a new run folder of <paramref name="kind"/> and locks it. It must not exist, be
    /// empty, or be a run of this kind that never finished an epoch (<paramref name="hasProgress"/> false: it holds only
    /// our files, and is started afresh). Returns the lock and whether the folder was created here.
    /// </summary>
    public static (RunLock Lock, bool Created) CreateNew(string root, string kind, Func<bool> hasProgress)
    {
        root = Path.GetFullPath(root);
        var full = CheckNew(root, kind, hasProgress);
        bool existed = Directory.Exists(full);
        OutputGuard.CreateFolder(full, root, "--out");
        var runLock = RunLock.Acquire(full, "--out");
        try
        {
            CheckNew(root, kind, hasProgress);   // again under the lock: another process may have started a run there
            // A run folder here never finished an epoch: nothing to resume, so start again in the same folder.
            if (IsRun(full)) Clear(full);
            WriteMarker(full, kind);
            return (runLock, !existed);
        }
        catch
        {
            runLock.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The refusals of <see cref="CreateNew"/>, writing nothing (a command checks them before it says anything; CreateNew
    /// checks again under the folder's lock). Returns the folder's full path.
    /// </summary>
    public static string CheckNew(string root, string kind, Func<bool> hasProgress)
    {
        var full = OutputGuard.CheckFolder(Path.GetFullPath(root), "--out", []);
        if (!Directory.Exists(full) || !Directory.EnumerateFileSystemEntries(full).Any(e => Path.GetFileName(e) != RunLock.FileName)) return full;
        if (IsRun(full))
        {
            if (Kind(full) != kind) throw new UserError($"--out {root}: holds a {Kind(full) ?? "damaged"} run; choose another --out.");
            if (hasProgress())
                throw new UserError($"--out {root}: already holds a run; continue it with '{Verb(kind)} --resume {root}', or choose another --out.");
            return full;
        }
        if (Kind(full) is not null)
            throw new UserError($"--out {root}: already holds a run; continue it with '{Verb(kind)} --resume {root}', or choose another --out.");
        throw new UserError($"--out {root}: not empty and not a ukan run folder (no {MarkerName}); choose a new folder, so that no file of yours is replaced.");
    }

    /// <summary>
    /// Locks the existing run folder <paramref name="root"/> of <paramref name="kind"/> for --resume, and removes the
    /// temporary files a killed process may have left (AtomicFile's ".name.pid.guid.tmp").
    /// </summary>
    public static RunLock OpenExisting(string root, string kind, string option = "--resume")
    {
        var full = CheckExisting(root, kind, option);
        var runLock = RunLock.Acquire(full, option);
        try
        {
            if (!IsRun(full)) WriteMarker(full, kind);
            RemoveOrphans(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            runLock.Dispose();
            throw new UserError($"{option} {root}: cannot write there ({e.Message}).");
        }
        return runLock;
    }

    /// <summary>
    /// The refusals of <see cref="OpenExisting"/>, writing nothing (a command checks them before it says anything).
    /// Returns the folder's full path.
    /// </summary>
    public static string CheckExisting(string root, string kind, string option = "--resume")
    {
        var full = Path.GetFullPath(root);
        if (File.Exists(full)) throw new UserError($"{option} {root}: is a file; give the run folder.");
        if (!Directory.Exists(full)) throw new UserError($"{option} {root}: no such folder; give the folder of a run started with '{Verb(kind)}'.");
        var found = Kind(full);
        if (found is null)
            throw new UserError($"{option} {root}: not a ukan run folder (no {MarkerName} or config.json); give the folder of a run started with '{Verb(kind)}'.");
        if (found == Sweep && kind != Sweep)
            throw new UserError($"{option} {root}: a sweep folder; continue the sweep with the same 'ukan sweep' command (same --out), or give one of its run folders.");
        if (found != kind)
            throw new UserError($"{option} {root}: a {found} run; continue it with '{Verb(found)} --resume {root}'.");
        return full;
    }

    /// <summary>Deletes AtomicFile temporaries in the run folder and its sub-folders (under the lock, so none is in use).</summary>
    public static void RemoveOrphans(string root)
    {
        foreach (var dir in Directory.EnumerateDirectories(root).Prepend(root))
            foreach (var file in Directory.EnumerateFiles(dir, ".*.tmp"))
                File.Delete(file);
    }

    /// <summary>Removes a run that failed before its first checkpoint: its files, the lock, and the folder if it was created for it.</summary>
    public static void Discard(string root, RunLock runLock, bool created)
    {
        try
        {
            Clear(root);
            runLock.Dispose();
            if (created && !Directory.EnumerateFileSystemEntries(root).Any()) Directory.Delete(root);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* best effort: the original error matters more */ }
        finally { runLock.Dispose(); }
    }

    static void WriteMarker(string root, string kind) =>
        AtomicFile.WriteAllText(Path.Combine(root, MarkerName),
            JsonFiles.Serialize(new { kind, created = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), tool = "ukan" }, JsonFiles.Compact) + "\n");

    /// <summary>Deletes everything in a run folder except its lock.</summary>
    static void Clear(string root)
    {
        foreach (var entry in Directory.EnumerateFileSystemEntries(root))
        {
            if (Path.GetFileName(entry) == RunLock.FileName) continue;
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true); else File.Delete(entry);
        }
    }
}
