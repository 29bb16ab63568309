namespace UKan.Native;

/// <summary>
/// A file of the compile cache (<see cref="CompileCache"/>): where it is, whether this process built it (false: it was
/// already there, possibly after waiting for another process's build), and how long getting it took.
/// </summary>
public sealed record CacheOutcome(string Path, bool Built, TimeSpan Elapsed)
{
    /// <summary>E.g. "compiled in 41,200 ms" or "cached, 0 ms".</summary>
    public string Describe() => Built ? $"compiled in {Elapsed.TotalMilliseconds:N0} ms" : $"cached, {Elapsed.TotalMilliseconds:N0} ms";
}
