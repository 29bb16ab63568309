using System.Runtime.InteropServices;

namespace UKan.Tests;

/// <summary>
/// Live bytes of the native heap, for deterministic memory assertions on the CPU: glibc's mallinfo2 in-use arena
/// bytes (uordblks) plus mmapped chunks (hblkhd). libtorch's CPU allocator calls posix_memalign directly (no caching),
/// so a tensor's storage is counted from allocation to free, byte for byte — unlike RSS, which depends on page reuse,
/// trimming and the kernel. Process-wide: tests that use it belong to <see cref="NativeHeapCollection"/>.
/// </summary>
public static class NativeHeap
{
    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo2
    {
        public nuint Arena, Ordblks, Smblks, Hblks, Hblkhd, Usmblks, Fsmblks, Uordblks, Fordblks, Keepcost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallInfo2 Native();

    /// <summary>True where mallinfo2 exists (glibc ≥ 2.33 on Linux).</summary>
    public static bool Available
    {
        get
        {
            if (!OperatingSystem.IsLinux()) return false;
            try { _ = Native(); return true; }
            catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { return false; }
        }
    }

    public static long InUseBytes()
    {
        var m = Native();
        return (long)(m.Uordblks + m.Hblkhd);
    }

    /// <summary>Bytes in blocks that malloc gave their own mmap (hblkhd), as opposed to heap (arena) blocks.</summary>
    public static long MappedBytes() => (long)Native().Hblkhd;

    /// <summary>
    /// Native bytes that <paramref name="run"/> leaves allocated while the object it returns is alive (the object is
    /// then disposed): the median of <paramref name="repeats"/> measurements. The counters are process-wide and the
    /// runtime itself allocates from the same heap at times of its choosing (background tier-1 JIT, type loads), which
    /// once added 1.4 MiB to a 1 MiB window on a CI machine; one noisy sample cannot move a median of five. Garbage is
    /// collected first so that finalisers do not free memory inside the window.
    /// </summary>
    public static long Retained<T>(Func<T> run, int repeats = 5) where T : IDisposable
    {
        var samples = new long[repeats];
        for (int i = 0; i < repeats; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            long before = InUseBytes();
            var kept = run();
            long after = InUseBytes();
            kept.Dispose();
            samples[i] = after - before;
        }
        Array.Sort(samples);
        return samples[repeats / 2];
    }
}

/// <summary>Tests that read process-wide heap counters: run alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(NativeHeapCollection), DisableParallelization = true)]
public sealed class NativeHeapCollection;
