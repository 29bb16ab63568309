namespace UKan.Tests.Commands;

/// <summary>What one in-process run of the <c>ukan</c> command returned and printed.</summary>
public sealed record CliOutcome(int Code, string Stdout, string Stderr);

/// <summary>Runs the <c>ukan</c> command in this process with stdout and stderr captured (torch already started on the CPU).</summary>
public static class CliRunner
{
    public static CliOutcome Run(params string[] args)
    {
        _ = TestTorch.Runtime;
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        var (o, e) = (new StringWriter(), new StringWriter());
        Console.SetOut(o);
        Console.SetError(e);
        try { return new CliOutcome(UKan.Cli.CommandLine.Run(args), o.ToString(), e.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }
}
