using System.Diagnostics;
using UKan.Training.Distributed;

namespace UKan.Tests.Training.Distributed;

/// <summary>The supervisor with stand-in workers (shell commands): what it does when one fails, and how it stops them.</summary>
public class WorkerSupervisorTests
{
    static WorkerSupervisor.Worker Shell(string name, string script) => new(name, new ProcessStartInfo("bash", ["-c", script]));

    static WorkerSupervisor Supervisor(StringWriter output) =>
        new() { Out = output, Error = output, Grace = TimeSpan.FromSeconds(20), FailureGrace = TimeSpan.FromSeconds(2) };

    [Fact]
    public void A_worker_that_fails_stops_the_others_with_its_exit_code_and_one_line()
    {
        var output = new StringWriter();
        var clock = Stopwatch.StartNew();
        // Worker 1 ignores the stop line (as one stuck in a collective would): it is killed after the grace.
        var outcome = Supervisor(output).Run([
            Shell("0 (cpu)", "echo rank0 says hello; read line; echo got $line; exit 130"),
            Shell("1 (cpu)", "sleep 0.3; echo 'ukan: error: something broke' >&2; exit 3"),
            Shell("2 (cpu)", "sleep 60"),
        ], TestContext.Current.CancellationToken);
        Assert.Equal(3, outcome.ExitCode);
        Assert.Equal("worker 1 (cpu) exited with code 3 (ukan: error: something broke); the other workers were stopped", outcome.Failure);
        Assert.DoesNotContain('\n', outcome.Failure!);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        // Rank 0's output is passed through, and it received the stop line.
        Assert.Contains("rank0 says hello", output.ToString());
        Assert.Contains("got stop", output.ToString());
        Assert.DoesNotContain("something broke", output.ToString());   // the others' output is held back
    }

    [Fact]
    public void A_stop_request_reaches_every_worker_and_the_run_ends_as_stopped()
    {
        var output = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        var outcome = Supervisor(output).Run([
            Shell("0 (cpu)", "read line; [ \"$line\" = stop ] && exit 130; exit 9"),
            Shell("1 (cpu)", "read line; [ \"$line\" = stop ] && exit 130; exit 9"),
        ], stop.Token);
        Assert.Equal(130, outcome.ExitCode);
        Assert.True(outcome.Stopped);
        Assert.Null(outcome.Failure);
    }

    [Fact]
    public void Workers_that_all_succeed_end_with_zero()
    {
        var outcome = Supervisor(new StringWriter()).Run([Shell("0 (cpu)", "exit 0"), Shell("1 (cpu)", "sleep 0.2; exit 0")], TestContext.Current.CancellationToken);
        Assert.Equal(new WorkerSupervisor.Outcome(0, null, false), outcome);
    }

    [Fact]
    public void The_stop_channel_cancels_on_the_stop_line_or_at_the_end_of_its_input()
    {
        using var byLine = new StopChannel(new StringReader("something\nstop\n"));
        Assert.True(byLine.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(5)));
        using var byEnd = new StopChannel(new StringReader(""));
        Assert.True(byEnd.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(5)));
    }
}
