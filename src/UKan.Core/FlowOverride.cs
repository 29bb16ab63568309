namespace UKan;

/// <summary>
/// A yes/no choice that code of one calling flow (this thread and the tasks it starts) can force, whatever the
/// environment variable that normally decides it says: comparisons of both computations in one process (selftest,
/// tests), where setting the variable would reach other threads.
/// </summary>
internal sealed class FlowOverride
{
    readonly AsyncLocal<bool?> forced = new();

    /// <summary>The forced choice of this flow, or null where none is forced.</summary>
    public bool? Value => forced.Value;

    /// <summary><paramref name="body"/>'s result with the choice forced to <paramref name="value"/>.</summary>
    public T With<T>(bool value, Func<T> body)
    {
        var before = forced.Value;
        forced.Value = value;
        try { return body(); }
        finally { forced.Value = before; }
    }
}
