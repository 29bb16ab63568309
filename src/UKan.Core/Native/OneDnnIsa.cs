using System.Security.Cryptography;
using System.Text;

namespace UKan.Native;

/// <summary>
/// Which instruction set oneDNN may generate its CPU kernels for (ONEDNN_MAX_CPU_ISA), chosen once per machine so that
/// CPU convolutions stay on oneDNN where its kernels for the CPU's own (widest) instruction set are wrong.
/// </summary>
/// <remarks>
/// <para>oneDNN reads ONEDNN_MAX_CPU_ISA once, at its first use (oneDNN documentation, "CPU Dispatcher Controls":
/// https://uxlfoundation.github.io/oneDNN/dev_guide_cpu_dispatcher_control.html), so a limit must be in the
/// environment when the process starts, and trying another limit takes another process. The choice is therefore made
/// before torch is loaded (the CLI's start-up, <see cref="Plan"/>):</para>
/// <list type="number">
/// <item>A decision cached for this CPU and libtorch is used as it is: no probe, no extra process.</item>
/// <item>Otherwise small probe processes (the app itself, see <see cref="ProbeChildVariable"/>) run the convolution
/// probe of <see cref="CpuConvolutions"/> with no limit, then with AVX2, then with AVX (only the limits below the CPU's
/// own ISA), stopping at the first that passes; the answer, or "aten" when none passes, is cached. This costs one
/// process start with torch on the first run on a machine (a few seconds), and up to three on a CPU like the AVX-512
/// EPYC where oneDNN's own kernels are wrong.</item>
/// <item>The limit is put into the environment by the start-up re-execution the app makes anyway for its malloc
/// settings (one re-exec for both, guarded against loops).</item>
/// </list>
/// <para>Whatever the plan, the process still probes its convolutions at start-up (<see cref="CpuConvolutions.Configure()"/>)
/// and falls back to ATen's own convolutions if they are wrong: the cache only saves time, it is never trusted for
/// correctness. Processes that are not started by the CLI (the tests) take no limit and rely on that fallback.</para>
/// </remarks>
public static class OneDnnIsa
{
    /// <summary>oneDNN's own variable (older oneDNN releases read DNNL_MAX_CPU_ISA, which we leave alone).</summary>
    public const string IsaVariable = "ONEDNN_MAX_CPU_ISA";
    /// <summary>auto (default): choose as above; default: no limit; or a oneDNN ISA name (AVX2, AVX, AVX512_CORE, ...).</summary>
    public const string OptionVariable = "UKAN_ONEDNN_ISA";
    /// <summary>Set next to <see cref="IsaVariable"/> when ukan put the limit there (cache or option), not the user.</summary>
    public const string SourceVariable = "UKAN_ONEDNN_ISA_SOURCE";
    /// <summary>Set to 1 in a probe process: it probes its convolutions, prints the result and exits.</summary>
    public const string ProbeChildVariable = "UKAN_ONEDNN_PROBE";

    /// <summary>No limit: oneDNN uses everything the CPU has.</summary>
    public const string NoLimit = "default";
    /// <summary>oneDNN is wrong at every limit tried: ATen's own convolutions.</summary>
    public const string Aten = "aten";

    /// <summary>What the start-up planner decided: the limit to put into the environment (null: none), and why.</summary>
    public sealed record Choice(string? Isa, string Why);

    /// <summary>The limits worth trying, widest first: none, then those below the CPU's own ISA (from its /proc/cpuinfo flags).</summary>
    public static IReadOnlyList<string> Candidates(IReadOnlySet<string> cpuFlags)
    {
        var list = new List<string> { NoLimit };
        if (cpuFlags.Contains("avx512f")) list.Add("AVX2");
        if (cpuFlags.Contains("avx2")) list.Add("AVX");
        return list;
    }

    /// <summary>
    /// Probes <paramref name="candidates"/> in order and returns the first that passes, <see cref="Aten"/> when none
    /// does, or null when a probe could not run (no decision: nothing is cached, the process probes in-process).
    /// </summary>
    public static string? Decide(IEnumerable<string> candidates, Func<string, bool?> probe)
    {
        foreach (var isa in candidates)
        {
            switch (probe(isa))
            {
                case true: return isa;
                case null: return null;
            }
        }
        return Aten;
    }

    /// <summary>
    /// The start-up decision (pure apart from its arguments): UKAN_ONEDNN=off needs no limit; a limit the user set
    /// (ONEDNN_MAX_CPU_ISA without <see cref="SourceVariable"/>) is kept; UKAN_ONEDNN_ISA names one; otherwise the
    /// cached decision, or a fresh one from <paramref name="probe"/>, stored with <paramref name="store"/>.
    /// </summary>
    public static Choice Plan(Func<string, string?> env, Func<string?> cached, IReadOnlyList<string> candidates,
        Func<string, bool?> probe, Action<string> store)
    {
        var mode = (env(CpuConvolutions.Variable) ?? "auto").Trim().ToLowerInvariant();
        if (mode == "off") return new(null, $"{CpuConvolutions.Variable}=off");
        if (env(IsaVariable) is { Length: > 0 } user && string.IsNullOrEmpty(env(SourceVariable)))
            return new(null, $"{IsaVariable}={user} set by the user");
        var option = (env(OptionVariable) ?? "auto").Trim();
        if (!option.Equals("auto", StringComparison.OrdinalIgnoreCase) && option.Length > 0)
            return IsNoLimit(option) ? new(null, $"{OptionVariable}={option}") : new(Normalize(option), $"{OptionVariable}={option}");
        if (mode == "on") return new(null, $"{CpuConvolutions.Variable}=on");
        var decision = cached();
        var source = "cached decision for this CPU";
        if (decision is null)
        {
            decision = Decide(candidates, probe);
            if (decision is null) return new(null, "the oneDNN probe could not run; deciding in-process");
            store(decision);
            source = "probed for this CPU";
        }
        return decision is NoLimit or Aten ? new(null, $"{decision} ({source})") : new(decision, source);
    }

    static bool IsNoLimit(string isa) => isa.Equals(NoLimit, StringComparison.OrdinalIgnoreCase) || isa.Equals("ALL", StringComparison.OrdinalIgnoreCase);

    /// <summary>An ISA name as oneDNN spells it (upper case); refuses anything that is not a plain name.</summary>
    public static string Normalize(string isa)
    {
        var upper = isa.Trim().ToUpperInvariant();
        if (upper.Length == 0 || !upper.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
            throw new UserError($"{OptionVariable}={isa}: use auto, default, or a oneDNN ISA name such as AVX2 or AVX.");
        return upper;
    }

    /// <summary>The limit in effect in this process and who set it (for <c>ukan info</c> and the start-up messages).</summary>
    public static string Describe()
    {
        var isa = Environment.GetEnvironmentVariable(IsaVariable);
        if (string.IsNullOrEmpty(isa)) return "no limit (the CPU's own instruction set)";
        var source = Environment.GetEnvironmentVariable(SourceVariable);
        return string.IsNullOrEmpty(source) ? $"{isa} ({IsaVariable} set by the user)" : $"{isa} ({source})";
    }

    // ---- the per-machine cache ----

    /// <summary>The cache file of the decision for this CPU and libtorch folder; null without a writable cache folder.</summary>
    public static string? CachePath(string? libTorchDir)
    {
        try
        {
            var libSize = libTorchDir is not null && File.Exists(Path.Combine(libTorchDir, "libtorch_cpu.so"))
                ? new FileInfo(Path.Combine(libTorchDir, "libtorch_cpu.so")).Length : 0;
            var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{CpuIdentity()}\n{libTorchDir}\n{libSize}")))[..16].ToLowerInvariant();
            return Path.Combine(TorchRuntime.CacheFolder(), "onednn-isa", key);
        }
        catch (Exception e) when (e is UserError or IOException or UnauthorizedAccessException) { return null; }
    }

    public static string? ReadCached(string? path)
    {
        try
        {
            if (path is null || !File.Exists(path)) return null;
            var text = File.ReadAllText(path).Trim();
            return text.Length > 0 && (text is NoLimit or Aten || text.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')) ? text : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    public static void Store(string? path, string decision)
    {
        if (path is null) return;
        try { AtomicFile.WriteAllText(path, decision + "\n"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* a cache: next run decides again */ }
    }

    /// <summary>The libtorch a CPU process started without options loads (UKAN_LIBTORCH, else the bundled one): the probes' libtorch.</summary>
    public static string? DefaultLibTorchDir()
    {
        try
        {
            if (Environment.GetEnvironmentVariable(LibTorchLocator.EnvironmentVariable) is { Length: > 0 } env)
                return LibTorchLocator.FromUser(env, LibTorchSource.Environment).Path;
        }
        catch (UserError) { return null; }
        return LibTorchLocator.Bundled()?.Path;
    }

    /// <summary>The CPU model and its feature flags (the first processor of /proc/cpuinfo): what oneDNN dispatches on.</summary>
    public static string CpuIdentity()
    {
        try
        {
            var lines = File.ReadLines("/proc/cpuinfo").TakeWhile(l => l.Trim().Length > 0)
                .Where(l => l.StartsWith("vendor_id") || l.StartsWith("cpu family") || l.StartsWith("model") || l.StartsWith("stepping") || l.StartsWith("flags"));
            return string.Join('\n', lines.Select(l => string.Join(' ', l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return "unknown"; }
    }

    /// <summary>The CPU's feature flags (empty where /proc/cpuinfo is unreadable).</summary>
    public static IReadOnlySet<string> CpuFlags()
    {
        var flags = CpuIdentity().Split('\n').FirstOrDefault(l => l.StartsWith("flags"));
        return flags is null ? new HashSet<string>() : flags.Split(':', 2).Last().Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet();
    }
}
