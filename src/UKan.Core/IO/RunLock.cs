using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace UKan.IO;

/// <summary>
/// Exclusive use of a run folder by one process: a lock file holding the owner's PID, host and start time, created
/// with <see cref="FileMode.CreateNew"/> (atomic: of two processes exactly one succeeds) and deleted on dispose. A
/// lock left by a process that died (kill -9, power loss) is stale when its PID is not running on this host, or runs a
/// process started after the lock was written (the PID was reused), and is then taken over.
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string FileName = ".ukan-lock";

    public string Folder { get; }
    public string LockPath { get; }
    readonly string content;
    bool released;

    RunLock(string folder, string path, string content) => (Folder, LockPath, this.content) = (folder, path, content);

    /// <summary>Takes the lock of <paramref name="folder"/> (which must exist); <paramref name="option"/> names it in messages.</summary>
    public static RunLock Acquire(string folder, string option)
    {
        folder = Path.GetFullPath(folder);
        var path = Path.Combine(folder, FileName);
        for (int attempt = 0; ; attempt++)
        {
            var text = string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessId} {Environment.MachineName} {DateTime.UtcNow:O}\n");
            try
            {
                using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read))
                {
                    stream.Write(Encoding.UTF8.GetBytes(text));
                    stream.Flush(flushToDisk: true);
                }
                return new RunLock(folder, path, text);
            }
            catch (IOException) when (File.Exists(path) && attempt < 3)
            {
                string held;
                try { held = File.ReadAllText(path); }
                catch (IOException) { continue; }   // released meanwhile: try again
                if (IsStale(held, File.GetLastWriteTimeUtc(path)))
                {
                    RemoveStale(path, held);
                    continue;
                }
                var (pid, host, since) = Parse(held);
                throw new UserError($"{option} {folder}: in use by another ukan process (PID {pid} on {host}, since {since}); wait for it to end or stop it " +
                                    $"(if no such process runs, delete {path}).");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UserError($"{option} {folder}: cannot write there ({e.Message.Split(". ")[0].TrimEnd('.')}); choose a writable folder.");
            }
        }
    }

    static (string Pid, string Host, string Since) Parse(string held)
    {
        var parts = held.Trim().Split(' ');
        return (parts.ElementAtOrDefault(0) ?? "?", parts.ElementAtOrDefault(1) ?? "?", parts.ElementAtOrDefault(2) ?? "?");
    }

    /// <summary>Whether the lock's owner is certainly gone. A lock of another host is never taken over: its PID says nothing here.</summary>
    internal static bool IsStale(string held, DateTime writtenUtc)
    {
        var (pidText, host, sinceText) = Parse(held);
        if (!int.TryParse(pidText, NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            // Unreadable: the owner died between creating and writing it (a few microseconds), unless it is very young.
            return DateTime.UtcNow - writtenUtc > TimeSpan.FromSeconds(10);
        if (host != Environment.MachineName) return false;
        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited) return true;
            if (DateTime.TryParse(sinceText, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var since))
            {
                try { return process.StartTime.ToUniversalTime() > since.ToUniversalTime().AddSeconds(1); }
                catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException) { return false; }
            }
            return false;
        }
        catch (ArgumentException) { return true; }   // no process with that id
        catch (InvalidOperationException) { return true; }
    }

    /// <summary>
    /// Moves the stale lock aside before deleting it, and puts it back if what was moved is not what was judged
    /// stale (another process took it over meanwhile), so that two processes clearing one stale lock cannot delete a live one.
    /// </summary>
    static void RemoveStale(string path, string held)
    {
        var aside = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.stale";
        try
        {
            File.Move(path, aside);
            if (File.ReadAllText(aside) == held) File.Delete(aside);
            else File.Move(aside, path);
        }
        catch (IOException) { /* someone else cleared it: the next attempt decides */ }
    }

    /// <summary>Deletes the lock file when it is still this process's.</summary>
    public void Dispose()
    {
        if (released) return;
        released = true;
        try
        {
            if (File.Exists(LockPath) && File.ReadAllText(LockPath) == content) File.Delete(LockPath);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the folder is gone or read-only: nothing to release */ }
    }
}
