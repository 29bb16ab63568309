using System.Runtime.InteropServices;

namespace UKan.Cli;

/// <summary>
/// Cancelled by the first Ctrl+C (SIGINT) or SIGTERM (what kill, systemd and job schedulers send), which then do not
/// end the process; the second one does. Disposing it removes both handlers, so that commands run one after another
/// in one process (the tests) do not pile them up.
/// </summary>
sealed class StopSignal : CancellationTokenSource
{
    readonly string boundary;
    readonly PosixSignalRegistration? term;

    public StopSignal(string boundary)
    {
        this.boundary = boundary;
        Console.CancelKeyPress += OnCancelKey;
        try { term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnTerm); }
        catch (PlatformNotSupportedException) { term = null; }
    }

    void OnCancelKey(object? sender, ConsoleCancelEventArgs e) => e.Cancel = Stop("Ctrl+C");

    void OnTerm(PosixSignalContext context) => context.Cancel = Stop("SIGTERM");

    /// <summary>True (keep running) on the first signal; false (let the default action end the process) on the second.</summary>
    bool Stop(string what)
    {
        if (IsCancellationRequested) return false;
        Cancel();
        Console.Error.WriteLine($"ukan: {what}: stopping after this {boundary} ({what} again to abort)…");
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Console.CancelKeyPress -= OnCancelKey;
            term?.Dispose();
        }
        base.Dispose(disposing);
    }
}
