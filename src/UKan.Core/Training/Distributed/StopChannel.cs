namespace UKan.Training.Distributed;

/// <summary>
/// A worker's stop request from its supervisor (<see cref="WorkerSupervisor"/>): cancelled when standard input
/// brings the line <see cref="StopLine"/> or ends (the supervisor is gone). Ctrl+C is ignored in a worker: the
/// supervisor receives it too and passes it on, once, to every worker.
/// </summary>
public sealed class StopChannel : CancellationTokenSource
{
    public const string StopLine = "stop";
    readonly ConsoleCancelEventHandler ignore = (_, e) => e.Cancel = true;

    public StopChannel(TextReader input)
    {
        Console.CancelKeyPress += ignore;
        var reader = new Thread(() =>
        {
            try
            {
                string? line;
                while ((line = input.ReadLine()) is not null && line.Trim() != StopLine) { }
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
            try { Cancel(); } catch (ObjectDisposedException) { }
        })
        { IsBackground = true, Name = "ukan-stop-channel" };
        reader.Start();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Console.CancelKeyPress -= ignore;
        base.Dispose(disposing);
    }
}
