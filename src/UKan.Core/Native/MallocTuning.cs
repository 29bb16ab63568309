using System.Runtime.InteropServices;

namespace UKan.Native;

/// <summary>
/// glibc malloc settings that stop the allocator from returning memory to the kernel after every training step.
/// </summary>
/// <remarks>
/// Measured on a 2-core machine (docs/platform.md §4): a conv training step of batch 8 at 256x256 took 2,692 ms with
/// default settings and 190 ms with these, because every step otherwise mmaps and unmaps its large activations and
/// pays the page faults again. glibc reads GLIBC_TUNABLES only at process start, hence the re-exec in the CLI.
/// A process that is not ukan (an app using the library, the test host) gets the same behaviour from
/// <see cref="ApplyInProcess"/>, which <see cref="TorchRuntime.Initialize"/> calls: glibc's mallopt(3) sets the same two
/// parameters at run time, within its int range (1 GiB and 2 GiB instead of 4 GiB and 64 GiB; a difference only
/// for single blocks above 1 GiB and for a heap with more than 2 GiB free at its top).
/// </remarks>
public static partial class MallocTuning
{
    public const string Variable = "GLIBC_TUNABLES";
    public const string MmapThreshold = "glibc.malloc.mmap_threshold=4294967296";
    public const string TrimThreshold = "glibc.malloc.trim_threshold=68719476736";
    /// <summary>Set to 1 to run with the system's default malloc (for measuring the difference).</summary>
    public const string OptOutVariable = "UKAN_DEFAULT_MALLOC";

    public static bool IsActive(string? tunables = null)
    {
        tunables ??= Environment.GetEnvironmentVariable(Variable) ?? "";
        var parts = tunables.Split(':', StringSplitOptions.RemoveEmptyEntries);
        return parts.Contains(MmapThreshold) && parts.Contains(TrimThreshold);
    }

    public static bool OptedOut => Environment.GetEnvironmentVariable(OptOutVariable) == "1";

    /// <summary>mallopt's parameters (malloc.h): M_TRIM_THRESHOLD and M_MMAP_THRESHOLD.</summary>
    const int TrimThresholdParameter = -1, MmapThresholdParameter = -3;
    /// <summary>The in-process values, within mallopt's int range (the tunables' own do not fit in an int).</summary>
    const int InProcessMmapThreshold = 1 << 30;
    const int InProcessTrimThreshold = int.MaxValue;

    static readonly object Gate = new();
    static string? applied;

    /// <summary>
    /// How this process's malloc is set up: "GLIBC_TUNABLES", "mallopt", "mallopt refused", "opted out", "not glibc", or null before
    /// <see cref="ApplyInProcess"/> has run (shown by <c>ukan info</c>).
    /// </summary>
    public static string? InProcessState => applied;

    /// <summary>
    /// Sets both thresholds with mallopt in this process unless GLIBC_TUNABLES already carries them or
    /// <see cref="OptOutVariable"/> is 1. Idempotent and safe to call from any thread; does nothing off glibc
    /// (musl, other systems). Returns whether the settings are in effect afterwards.
    /// </summary>
    public static bool ApplyInProcess()
    {
        lock (Gate)
        {
            if (applied is null)
            {
                if (IsActive()) applied = Variable;
                else if (OptedOut) applied = "opted out";
                else if (!OperatingSystem.IsLinux()) applied = "not glibc";
                else
                {
                    try
                    {
                        // mallopt returns 1 on success (glibc 2.36 accepts 1 GiB). Some glibc versions refuse an mmap
                        // threshold above HEAP_MAX_SIZE / 2 (32 MiB on 64-bit): then 32 MiB, the most they allow.
                        bool mmap = Mallopt(MmapThresholdParameter, InProcessMmapThreshold) == 1
                                 || Mallopt(MmapThresholdParameter, 32 << 20) == 1;
                        bool trim = Mallopt(TrimThresholdParameter, InProcessTrimThreshold) == 1;
                        applied = mmap && trim ? "mallopt" : "mallopt refused";
                    }
                    catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { applied = "not glibc"; }
                }
            }
            return applied is Variable or "mallopt";
        }
    }

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);

    /// <summary>The GLIBC_TUNABLES value with our two settings added to whatever the user already had.</summary>
    public static string Merge(string? existing)
    {
        var parts = (existing ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !p.StartsWith("glibc.malloc.mmap_threshold=", StringComparison.Ordinal)
                     && !p.StartsWith("glibc.malloc.trim_threshold=", StringComparison.Ordinal))
            .ToList();
        parts.Add(MmapThreshold);
        parts.Add(TrimThreshold);
        return string.Join(':', parts);
    }
}
