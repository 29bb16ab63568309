using System.Diagnostics;

namespace UKan.Training.Distributed;

/// <summary>
/// Starts the worker processes of one data-parallel run and watches them, as torchrun does: the first worker's
/// output is passed through (it reports the run's progress), the others' kept back (their last error lines are
/// reported if they fail). A worker that fails stops the others; a stop request (Ctrl+C, SIGTERM of the parent)
/// is passed on to every worker, which then stop together at their next agreement point and leave a resumable run.
/// </summary>
/// <remarks>
/// The stop channel is each worker's standard input: the line "stop", or its end (the parent died), cancels the
/// worker's run (<see cref="StopChannel"/>). Workers ignore Ctrl+C themselves: the terminal sends it to the whole
/// process group, and one stop request per worker, from one place, is what lets them agree.
/// </remarks>
public sealed class WorkerSupervisor
{
    /// <summary>One worker to start: a name for messages ("rank 1 (cuda:1)") and how to start it.</summary>
    public sealed record Worker(string Name, ProcessStartInfo Start);

    /// <summary>How the run ended: the exit code to return and, when a worker failed, one line saying which and why.</summary>
    public sealed record Outcome(int ExitCode, string? Failure, bool Stopped);

    /// <summary>How long the workers get to stop by themselves after a stop request or a clean exit of one of them, before they are killed.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>The same after a worker failed: the others are then usually waiting in a collective that will never complete.</summary>
    public TimeSpan FailureGrace { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Where the first worker's output lines go.</summary>
    public TextWriter Out { get; init; } = Console.Out;
    public TextWriter Error { get; init; } = Console.Error;

    public Outcome Run(IReadOnlyList<Worker> workers, CancellationToken stop)
    {
        var processes = new List<Process>();
        var lastErrors = workers.Select(_ => new Queue<string>()).ToList();
        try
        {
            for (int i = 0; i < workers.Count; i++)
            {
                var start = workers[i].Start;
                start.UseShellExecute = false;
                start.RedirectStandardInput = true;
                start.RedirectStandardOutput = true;
                start.RedirectStandardError = true;
                var p = new Process { StartInfo = start };
                int rank = i;
                p.OutputDataReceived += (_, e) => { if (e.Data is not null && rank == 0) lock (Out) Out.WriteLine(e.Data); };
                p.ErrorDataReceived += (_, e) =>
                {
                    if (e.Data is null) return;
                    if (rank == 0) lock (Error) Error.WriteLine(e.Data);
                    var q = lastErrors[rank];
                    lock (q) { q.Enqueue(e.Data); if (q.Count > 20) q.Dequeue(); }
                };
                if (!p.Start()) throw new InvalidOperationException($"worker {workers[i].Name} could not be started");
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
                processes.Add(p);
            }
            return Watch(workers, processes, lastErrors, stop);
        }
        finally
        {
            foreach (var p in processes)
            {
                try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                p.Dispose();
            }
        }
    }

    Outcome Watch(IReadOnlyList<Worker> workers, List<Process> processes, List<Queue<string>> lastErrors, CancellationToken stop)
    {
        string? failure = null;
        int failureCode = 0;
        bool stopSent = false;
        DateTime? deadline = null;
        while (true)
        {
            if (processes.All(p => p.HasExited)) break;
            if (stop.IsCancellationRequested && !stopSent)
            {
                SendStop(processes);
                stopSent = true;
                deadline = DateTime.UtcNow + Grace;
            }
            for (int i = 0; i < processes.Count && failure is null; i++)
            {
                var p = processes[i];
                if (!p.HasExited) continue;
                // A clean exit of one worker lets the others finish too (they are at most one step behind), within the grace.
                deadline ??= DateTime.UtcNow + Grace;
                if (p.ExitCode == 0 || (stopSent && p.ExitCode == 130)) continue;
                p.WaitForExit();   // the last output lines
                failureCode = p.ExitCode;
                failure = $"worker {workers[i].Name} exited with code {p.ExitCode}{LastLine(lastErrors[i])}; the other workers were stopped";
                if (!stopSent) { SendStop(processes); stopSent = true; }
                deadline = DateTime.UtcNow + FailureGrace;
            }
            if (deadline is { } d && DateTime.UtcNow > d)
            {
                var hanging = processes.Select((p, i) => (p, i)).Where(x => !x.p.HasExited).Select(x => workers[x.i].Name).ToList();
                foreach (var p in processes.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
                failure ??= $"worker(s) {string.Join(", ", hanging)} did not stop in time and were killed";
                failureCode = failureCode == 0 ? 1 : failureCode;
                break;
            }
            Thread.Sleep(50);
        }
        foreach (var p in processes) p.WaitForExit();
        if (failure is not null) return new Outcome(failureCode, failure, stopSent);
        bool stopped = processes.Any(p => p.ExitCode == 130);
        return new Outcome(stopped ? 130 : 0, null, stopped);
    }

    static string LastLine(Queue<string> lines)
    {
        lock (lines)
        {
            var last = lines.Reverse().FirstOrDefault(l => l.Trim().Length > 0);
            return last is null ? "" : $" ({last.Trim()})";
        }
    }

    static void SendStop(IEnumerable<Process> processes)
    {
        foreach (var p in processes)
        {
            if (p.HasExited) continue;
            try
            {
                p.StandardInput.WriteLine(StopChannel.StopLine);
                p.StandardInput.Flush();
            }
            catch (IOException) { /* it is exiting */ }
        }
    }
}
