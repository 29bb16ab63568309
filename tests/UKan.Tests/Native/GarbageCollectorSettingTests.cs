using System.Runtime;
using System.Text.Json;

namespace UKan.Tests.Native;

/// <summary>
/// The tests run under the garbage collector the ukan CLI runs under (Directory.Build.props): lifetime bugs between
/// managed wrappers and native tensors depend on when collections happen, so a different GC here would test another
/// program.
/// </summary>
public class GarbageCollectorSettingTests
{
    [Fact]
    public void The_test_host_uses_the_garbage_collector_settings_of_the_cli()
    {
        var config = Path.Combine(AppContext.BaseDirectory, "ukan.runtimeconfig.json");
        Assert.True(File.Exists(config), $"{config} is missing: the CLI's runtime settings are not next to the tests");
        using var json = JsonDocument.Parse(File.ReadAllText(config));
        var properties = json.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        bool server = properties.TryGetProperty("System.GC.Server", out var s) && s.GetBoolean();
        bool concurrent = !properties.TryGetProperty("System.GC.Concurrent", out var c) || c.GetBoolean();
        Assert.Equal(server, GCSettings.IsServerGC);
        // Batch is the latency mode of a collector with concurrent (background) collections off.
        Assert.Equal(concurrent, GCSettings.LatencyMode != GCLatencyMode.Batch);
    }
}
