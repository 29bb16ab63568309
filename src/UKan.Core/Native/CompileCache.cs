using System.Diagnostics;

namespace UKan.Native;

/// <summary>
/// "Build once per machine" for files compiled at run time (the libtorch shim, the CUDA kernels' CUBIN): the first
/// process to need an entry builds it while holding an exclusive lock on a side file; processes that start at the
/// same time wait for that lock and then load the finished entry instead of compiling it too.
/// </summary>
/// <remarks>
/// <para>The lock is a <c>.lock</c> file opened with <see cref="FileShare.None"/>. On Linux .NET implements that with
/// flock(2) (LOCK_EX | LOCK_NB; dotnet/runtime, src/libraries/System.Private.CoreLib/src/Microsoft/Win32/SafeHandles/
/// SafeFileHandle.Unix.cs), an advisory lock that the kernel drops when its holder exits or is killed: a lock left by
/// a dead process never blocks, so no timestamps or pids are needed to detect stale locks. flock locks belong to open
/// file descriptions, so two threads of one process exclude each other as two processes do.</para>
/// <para>The lock file is never deleted: deleting it while another process waits on the old inode would let a third
/// one lock a new inode, and two builders would run at once.</para>
/// <para>The entry itself only ever appears by an atomic rename of a finished temporary file, so a reader never sees
/// half a file, and a build that fails or is killed leaves nothing behind (its temporary is deleted, or is a stray
/// <c>.tmp</c> that no one reads). Waiting is bounded (<see cref="DefaultLockWait"/>): a holder that hangs makes the
/// waiter build its own copy, which is still safe thanks to the rename.</para>
/// </remarks>
public static class CompileCache
{
    /// <summary>How long to wait for another process's build (a g++ compile against libtorch's headers takes ~1 min).</summary>
    public static readonly TimeSpan DefaultLockWait = TimeSpan.FromMinutes(10);

    static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Returns <paramref name="entry"/>, building it first when it does not exist: <paramref name="build"/> writes the
    /// file at the temporary path it is given (in the same folder), which is then renamed to <paramref name="entry"/>.
    /// Exceptions from <paramref name="build"/> propagate; nothing is left at <paramref name="entry"/> then.
    /// </summary>
    public static CacheOutcome GetOrBuild(string entry, Action<string> build, TimeSpan? lockWait = null)
    {
        var clock = Stopwatch.StartNew();
        if (File.Exists(entry)) return new(entry, false, clock.Elapsed);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(entry))!);
        using (AcquireLock(entry + ".lock", lockWait ?? DefaultLockWait))
        {
            // Whoever held the lock before us may have built it.
            if (File.Exists(entry)) return new(entry, false, clock.Elapsed);
            var temp = $"{entry}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
            try
            {
                build(temp);
                if (!File.Exists(temp)) throw new InvalidOperationException($"building {Path.GetFileName(entry)} produced no file");
                File.Move(temp, entry, overwrite: true);
            }
            finally
            {
                try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
        return new(entry, true, clock.Elapsed);
    }

    /// <summary>Removes an entry found to be unusable (e.g. a CUBIN the driver rejects), so that the next call rebuilds it.</summary>
    public static void Invalidate(string entry)
    {
        try { File.Delete(entry); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The exclusive lock on <paramref name="path"/>, or null after <paramref name="wait"/> or where locking is impossible.</summary>
    static FileStream? AcquireLock(string path, TimeSpan wait)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (UnauthorizedAccessException) { return null; }   // a read-only lock file: build without it
            catch (IOException)
            {
                // Held by another process or thread (a sharing violation); anything else shows up again in the build.
                if (clock.Elapsed >= wait) return null;
                Thread.Sleep(Poll);
            }
        }
    }
}
