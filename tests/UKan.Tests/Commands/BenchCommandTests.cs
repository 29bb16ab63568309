using System.Text.Json;
using UKan.Models;

namespace UKan.Tests.Commands;

/// <summary><c>ukan bench</c> on the CPU at a tiny size: the table, the JSON file and the phase breakdown.</summary>
public class BenchCommandTests
{
    [Fact]
    public void Prints_the_table_and_writes_json_with_times_memory_and_phases()
    {
        var json = Path.Combine(Path.GetTempPath(), $"ukan-bench-{Guid.NewGuid():N}.json");
        var run = CliRunner.Run("bench", "--device", "cpu", "--preset", "tiny", "--size", "32", "--batch", "2",
            "--warmup", "1", "--runs", "3", "--breakdown", "--json", json);
        Assert.True(run.Code == 0, run.Stderr);
        Assert.Contains("train step ms", run.Stdout);
        Assert.Contains("backward", run.Stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var r = doc.RootElement.GetProperty("results")[0];
        Assert.Equal(ModelFactory.CountParameters(ModelFactory.Create(new ModelSpec { EmbedDims = ModelPresets.Resolve("tiny"), Preset = "tiny" })),
            r.GetProperty("parameters").GetInt64());
        Assert.Equal(32, r.GetProperty("size").GetInt32());
        Assert.Equal(3, r.GetProperty("train_step").GetProperty("runs").GetInt32());
        foreach (var timing in new[] { r.GetProperty("train_step"), r.GetProperty("inference") })
            Assert.True(timing.GetProperty("median_ms").GetDouble() > 0);
        Assert.True(r.GetProperty("train_peak_bytes").GetInt64() > 0, "peak memory (RSS on the CPU) missing");
        var phases = r.GetProperty("phases");
        double sum = 0;
        foreach (var name in new[] { "forward", "backward", "optimizer" })
        {
            var ms = phases.GetProperty(name).GetProperty("median_ms").GetDouble();
            Assert.True(ms > 0, $"{name} phase not timed");
            sum += ms;
        }
        // The phases are the step cut in three: same order of magnitude as the whole (noisy 2-core machines: loose).
        Assert.InRange(sum / r.GetProperty("train_step").GetProperty("median_ms").GetDouble(), 0.3, 3.0);
    }

    [Fact]
    public void A_size_that_is_not_a_multiple_of_32_is_refused_in_one_line()
    {
        var r = CliRunner.Run("bench", "--device", "cpu", "--preset", "tiny", "--size", "48", "--warmup", "0", "--runs", "1");
        Assert.Equal(2, r.Code);
        Assert.Contains("--size 48: must be a positive multiple of 32", r.Stderr);
    }
}
