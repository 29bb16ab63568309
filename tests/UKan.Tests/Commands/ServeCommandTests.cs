namespace UKan.Tests.Commands;

/// <summary><c>ukan serve</c> refuses options that cannot work before loading anything; <c>ukan bench serve</c> runs end to end.</summary>
public class ServeCommandTests
{
    [Theory]
    [InlineData("--host", "example.org")]
    [InlineData("--port", "70000")]
    [InlineData("--threshold", "1.5")]
    [InlineData("--max-body-mb", "0")]
    [InlineData("--batch", "0")]
    [InlineData("--queue", "0")]
    public void Serve_refuses_bad_options(string option, string value)
    {
        var (run, _) = BadInputTests.TrainedRun();
        BadInputTests.AssertRefused(CliRunner.Run("serve", "--weights", run, option, value), option);
    }

    [Fact]
    public void Serve_refuses_missing_weights() =>
        BadInputTests.AssertRefused(CliRunner.Run("serve", "--weights", "/nonexistent/run.safetensors", "--port", "0"), "/nonexistent/run.safetensors");

    [Fact]
    public void Serve_refuses_an_address_of_another_machine()
    {
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine, so binding it fails in the socket layer.
        var (run, _) = BadInputTests.TrainedRun();
        BadInputTests.AssertRefused(CliRunner.Run("serve", "--weights", run, "--host", "192.0.2.1", "--port", "0"), "--host 192.0.2.1");
    }

    [Fact]
    public void Serve_refuses_a_port_in_use_in_one_line()
    {
        var (run, _) = BadInputTests.TrainedRun();
        var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
            var r = CliRunner.Run("serve", "--weights", run, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            BadInputTests.AssertRefused(r, $"--port {port}");
            Assert.DoesNotContain("   at ", r.Stdout);   // the host's own log of the failure, stack trace and all
        }
        finally { taken.Stop(); }
    }

    [Fact]
    public void Bench_serve_answers_every_request()
    {
        var (run, _) = BadInputTests.TrainedRun();
        var json = BadInputTests.Temp() + ".json";
        var r = CliRunner.Run("bench", "serve", "--weights", run, "--requests", "24", "--concurrency", "4", "--warmup", "2", "--json", json);
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Contains("p50 ms", r.Stdout);
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var result = doc.RootElement.GetProperty("result");
        Assert.Equal(0, result.GetProperty("errors").GetInt32());
        Assert.True(result.GetProperty("p99_ms").GetDouble() >= result.GetProperty("p50_ms").GetDouble());
        Assert.True(result.GetProperty("requests_per_second").GetDouble() > 0);
    }
}
