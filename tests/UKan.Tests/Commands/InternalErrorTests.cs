using System.Runtime.InteropServices;
using UKan.Cli;

namespace UKan.Tests.Commands;

/// <summary>What the command line prints for a failure the user did not cause: one line, never a stack trace.</summary>
public class InternalErrorTests
{
    [Fact]
    public void An_unexpected_exception_prints_one_line_and_leaves_the_trace_in_a_file()
    {
        var oldErr = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        int code;
        try
        {
            var boom = new AggregateException(new InvalidOperationException("boom\n  second line"));
            code = CommandLine.ReportInternalError(["train", "--data", "x"], boom);
        }
        finally { Console.SetError(oldErr); }

        Assert.Equal(CommandLine.InternalError, code);
        var lines = err.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var line = Assert.Single(lines);
        Assert.StartsWith("ukan: internal error: boom second line (InvalidOperationException); the details are in ", line);
        var path = line["ukan: internal error: boom second line (InvalidOperationException); the details are in ".Length..line.IndexOf("; please report it.")];
        try
        {
            var text = File.ReadAllText(path);
            Assert.StartsWith("ukan train --data x", text);
            Assert.Contains("System.InvalidOperationException: boom", text);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.19 GiB total capacity)", "GPU")]
    [InlineData("[enforce fail at alloc_cpu.cpp:121] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 4 bytes.", "host")]
    [InlineData("Expected false to be true, but got false.", null)]
    public void Libtorch_allocation_failures_are_told_apart_from_other_libtorch_errors(string message, string? memory) =>
        Assert.Equal(memory, CommandLine.OutOfMemory(new ExternalException(message)));

    [Fact]
    public void A_dotnet_allocation_failure_is_the_hosts() =>
        Assert.Equal("host", CommandLine.OutOfMemory(new OutOfMemoryException()));

    /// <summary>The advice after running out of memory names only options the command has.</summary>
    [Theory]
    [InlineData("train", "use a smaller --batch or --size, or ")]
    [InlineData("bench", "use a smaller --batch or --size, or ")]
    [InlineData("info", "")]
    public void The_out_of_memory_advice_names_the_commands_own_options(string verb, string hint)
    {
        var command = CommandLine.Build().Subcommands.Single(c => c.Name == verb);
        Assert.Equal(hint, CommandLine.MemoryHint(command));
    }
}
