namespace UKan.IO;

/// <summary>
/// The rules every command that writes follows, checked before anything is computed or created:
/// <list type="bullet">
/// <item>an output folder never holds an input of the same command, nor lies inside an input folder other than a run
/// folder, nor inside the dataset an input image comes from (its masks are the ground truth);</item>
/// <item>an output file is never an input of the command, nor inside an input folder other than a run folder (a
/// dataset's images and masks, a folder of generated images), nor one of a run folder's own files, nor in its
/// checkpoints/, events/ or samples/;</item>
/// <item>an existing file is replaced only with --overwrite (files a command keeps in its own run folder excepted);</item>
/// <item>a file where a folder is expected, a folder where a file is expected, or a place that cannot be written is
/// refused with one line naming the option.</item>
/// </list>
/// Messages start with <c>label path:</c>, where label is the option (--out, --csv) or a phrase for a positional argument.
/// </summary>
public static class OutputGuard
{
    /// <summary>Checks an output folder against the command's inputs (files or folders); creates nothing. Returns its full path.</summary>
    public static string CheckFolder(string path, string label, IEnumerable<string?> inputs)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) throw new UserError($"{label} {path}: is a file; give a folder.");
        CheckAncestors(full, path, label);
        foreach (var input in inputs.OfType<string>())
        {
            var inFull = Path.GetFullPath(input);
            if (IsWithin(inFull, full))
                throw new UserError($"{label} {path}: holds the input {input}, which could be replaced; write to another folder.");
            if (DatasetOf(inFull) is string dataset && IsWithin(full, dataset))
                throw new UserError($"{label} {path}: lies inside the dataset {dataset} that the input {input} comes from, whose images and masks could be replaced; write to a folder outside it.");
            RefuseInsideInputFolder(full, path, label, input, inFull, "folder");
        }
        return full;
    }

    /// <summary>Refuses when any of <paramref name="names"/> exists in <paramref name="folder"/>, unless <paramref name="overwrite"/>.</summary>
    public static void CheckExisting(string folder, IEnumerable<string> names, string label, bool overwrite)
    {
        var targets = names.Select(n => Path.Combine(folder, n)).ToList();
        if (targets.FirstOrDefault(Directory.Exists) is string dir)
            throw new UserError($"{label} {folder}: {Path.GetFileName(dir)} there is a folder where a file would be written; move it or choose another folder.");
        if (overwrite) return;
        var existing = targets.Where(File.Exists).ToList();
        if (existing.Count > 0)
            throw new UserError($"{label} {folder}: {existing.Count} file(s) there would be replaced (first: {Path.GetFileName(existing[0])}); " +
                                "pass --overwrite to replace them, or choose another folder.");
    }

    /// <summary>
    /// Creates the (checked) output folder, takes its lock (<see cref="RunLock"/>: one writing command at a time) and
    /// checks again, under the lock, that none of <paramref name="names"/> would be replaced without
    /// <paramref name="overwrite"/>. Two commands started together into one folder both passed the first
    /// <see cref="CheckExisting"/> and replaced each other's files; now the second is refused. Dispose the lock when done.
    /// </summary>
    public static RunLock LockFolder(string full, string path, string label, IEnumerable<string> names, bool overwrite)
    {
        CreateFolder(full, path, label);
        var held = RunLock.Acquire(full, label);
        try { CheckExisting(full, names, label, overwrite); }
        catch { held.Dispose(); throw; }
        return held;
    }

    /// <summary>Creates the (checked) output folder and makes sure a file can be written in it.</summary>
    public static void CreateFolder(string full, string path, string label)
    {
        try
        {
            Directory.CreateDirectory(full);
            Probe(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{label} {path}: cannot write there ({Reason(e)}); choose a writable folder.");
        }
    }

    /// <summary>
    /// Checks an output file: not a folder, not an input nor inside an input dataset or input folder (a run folder
    /// excepted), not a run's own file, not an existing file unless
    /// <paramref name="overwrite"/> or <paramref name="replaceable"/> (a file the command keeps in its own run folder),
    /// and in a place that can be written. Creates nothing. Returns its full path.
    /// </summary>
    public static string CheckFile(string path, string label, bool overwrite, IEnumerable<string?> inputs, bool replaceable = false)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full) || path.EndsWith('/') || path.EndsWith(Path.DirectorySeparatorChar))
            throw new UserError($"{label} {path}: is a folder; give a file name (e.g. {Path.Combine(path, "results" + (label.Contains("csv") ? ".csv" : ".json"))}).");
        foreach (var input in inputs.OfType<string>())
        {
            var inFull = Path.GetFullPath(input);
            if (string.Equals(inFull, full, StringComparison.Ordinal))
                throw new UserError($"{label} {path}: is an input of this command; choose another file name.");
            RefuseInsideInputFolder(full, path, label, input, inFull, "file");
        }
        var dir = Path.GetDirectoryName(full)!;
        if (RunDirectory.IsRun(dir) && RunDirectory.OwnFiles.Contains(Path.GetFileName(full)))
            throw new UserError($"{label} {path}: is a file of the run in {dir}; choose another file name.");
        if (RunDirectory.OwnFolders.Contains(Path.GetFileName(dir)) && Path.GetDirectoryName(dir) is string run && RunDirectory.IsRun(run))
            throw new UserError($"{label} {path}: lies in {Path.GetFileName(dir)}/ of the run in {run}, which holds only the run's own files; " +
                                "write outside it.");
        if (File.Exists(full) && !overwrite && !replaceable)
            throw new UserError($"{label} {path}: the file exists; pass --overwrite to replace it, or choose another name.");
        CheckAncestors(dir, Path.GetDirectoryName(path) is { Length: > 0 } d ? d : ".", label);
        // The nearest existing folder must take new files (AtomicFile writes a temporary file beside the target).
        var existing = dir;
        while (!Directory.Exists(existing)) existing = Path.GetDirectoryName(existing)!;
        try { Probe(existing); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"{label} {path}: cannot write in {existing} ({Reason(e)}); choose a writable place.");
        }
        return full;
    }

    /// <summary>
    /// An output (<paramref name="what"/>: file or folder) inside an input folder is refused, --overwrite or not: it
    /// could replace a dataset's images and masks or any other input folder's files (e.g. diffusion eval's
    /// --generated and --real), and a folder written there becomes part of the input the next time it is read
    /// (data resize SRC SRC/small, diffusion train --out DATA/run). Only a run folder takes its command's own results.
    /// </summary>
    static void RefuseInsideInputFolder(string full, string path, string label, string input, string inFull, string what)
    {
        if (!Directory.Exists(inFull) || !IsWithin(full, inFull) || RunDirectory.IsRun(inFull)) return;
        if (Directory.Exists(Path.Combine(inFull, "images")))
            throw new UserError($"{label} {path}: lies inside the dataset {input}, whose images and masks could be replaced; write to a {what} outside it.");
        throw new UserError($"{label} {path}: lies inside the input folder {input}, whose files could be replaced; write to a {what} outside it.");
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or lies inside it.</summary>
    public static bool IsWithin(string path, string folder)
    {
        path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        return path == folder || path.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);
    }

    /// <summary>The dataset folder (X of X/images/ beside X/masks/) an image file lies in, else null.</summary>
    static string? DatasetOf(string file)
    {
        var parent = Path.GetDirectoryName(file);
        if (parent is null || Path.GetFileName(parent) != "images") return null;
        var root = Path.GetDirectoryName(parent);
        return root is not null && Directory.Exists(Path.Combine(root, "masks")) ? root : null;
    }

    /// <summary>A file on the way to <paramref name="full"/> (e.g. --out model.safetensors/x) makes it impossible.</summary>
    static void CheckAncestors(string full, string path, string label)
    {
        for (var a = Path.GetDirectoryName(full); a is not null; a = Path.GetDirectoryName(a))
            if (File.Exists(a)) throw new UserError($"{label} {path}: {a} is a file, so nothing can be written below it; choose another place.");
    }

    static void Probe(string folder)
    {
        var probe = Path.Combine(folder, $".ukan-write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
        using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
    }

    static string Reason(Exception e) => e.Message.Split(". ")[0].TrimEnd('.').Replace(Environment.NewLine, " ");
}
