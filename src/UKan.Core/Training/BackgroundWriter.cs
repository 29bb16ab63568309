using System.Diagnostics;

namespace UKan.Training;

/// <summary>
/// Runs file writes (checkpoints, exported weights, metrics) one after another on a background thread, in the order
/// they were queued, so that training does not wait for the disk. At most <see cref="MaxPending"/> writes wait at
/// once; queuing another waits for the oldest (the time spent waiting is <see cref="Waited"/>). Each write must be
/// atomic on its own (AtomicFile): a crash leaves the previous file in place. The first failure is raised on the
/// next <see cref="Enqueue"/> or <see cref="Flush"/>, on the training thread.
/// </summary>
public sealed class BackgroundWriter : IDisposable
{
    readonly Queue<Task> pending = new();   // used by the training thread only
    readonly object busyGate = new();
    Exception? failure;

    public int MaxPending { get; }
    /// <summary>Time the caller spent blocked on earlier writes (a disk slower than the epochs shows here).</summary>
    public TimeSpan Waited { get; private set; }
    /// <summary>Time the writes themselves took, on the background thread.</summary>
    public TimeSpan Busy
    {
        get { lock (busyGate) return busy; }
        private set { lock (busyGate) busy = value; }
    }
    TimeSpan busy;

    public BackgroundWriter(int maxPending = 2)
    {
        if (maxPending < 1) throw new ArgumentOutOfRangeException(nameof(maxPending));
        MaxPending = maxPending;
    }

    /// <summary>Queues <paramref name="write"/> after every write queued before it; <paramref name="after"/> runs when it ends, failed or not.</summary>
    public void Enqueue(Action write, Action? after = null)
    {
        ThrowIfFailed();
        while (pending.Count >= MaxPending) WaitOldest();
        var previous = pending.Count > 0 ? pending.Last() : Task.CompletedTask;
        pending.Enqueue(previous.ContinueWith(_ =>
        {
            var clock = Stopwatch.StartNew();
            try
            {
                if (Volatile.Read(ref failure) is null) write();
            }
            catch (Exception e) { Interlocked.CompareExchange(ref failure, e, null); }
            finally
            {
                after?.Invoke();
                lock (busyGate) busy += clock.Elapsed;
            }
        }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default));
        ThrowIfFailed();
    }

    /// <summary>Waits for every queued write; raises the first failure.</summary>
    public void Flush()
    {
        while (pending.Count > 0) WaitOldest();
        ThrowIfFailed();
    }

    void WaitOldest()
    {
        var clock = Stopwatch.StartNew();
        pending.Dequeue().Wait();
        Waited += clock.Elapsed;
    }

    void ThrowIfFailed()
    {
        if (Volatile.Read(ref failure) is { } e)
            throw e is UserError ? e : new UserError($"writing the run's files failed: {e.Message.Split('\n')[0]}");
    }

    /// <summary>Waits for the queued writes without raising (the caller is already leaving, perhaps because of an error).</summary>
    public void Dispose()
    {
        while (pending.Count > 0)
        {
            try { pending.Dequeue().Wait(); } catch { /* recorded in failure */ }
        }
    }
}
