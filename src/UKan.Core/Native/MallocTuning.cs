namespace UKan.Native;

/// <summary>
/// glibc malloc settings that stop the allocator from returning memory to the kernel after every training step.
/// </summary>
/// <remarks>
/// Measured on a 2-core machine (docs/platform.md §4): a conv training step of batch 8 at 256x256 took 2,692 ms with
/// default settings and 190 ms with these, because every step otherwise mmaps and unmaps its large activations and
/// pays the page faults again. glibc reads GLIBC_TUNABLES only at process start, hence the re-exec in the CLI.
/// </remarks>
public static class MallocTuning
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
