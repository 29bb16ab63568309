namespace UKan.Tests.Commands;

/// <summary><c>ukan train --profile</c>: the phase table on stdout and profile.json in the run folder.</summary>
public class TrainProfileCommandTests
{
    static string[] Train(string data, string output, params string[] extra) =>
        ["train", "--data", data, "--out", output, "--preset", "tiny", "--size", "32", "--epochs", "2", "--batch", "2", .. extra];

    [Theory]
    [InlineData("--profile")]
    [InlineData("--profile", "async")]
    public void Profile_prints_the_phases_and_writes_profile_json(params string[] profile)
    {
        var data = SyntheticDataset.Create(count: 6, size: 32);
        var output = Path.Combine(Path.GetTempPath(), $"ukan-profile-{Guid.NewGuid():N}");
        var r = CliRunner.Run(Train(data, output, [.. profile, "--data-placement", "device"]));
        Assert.True(r.Code == 0, r.Stderr);
        foreach (var phase in new[] { "startup.data_check", "startup.data_load", "first_step", "validation", "checkpoint", "total" })
            Assert.Contains(phase, r.Stdout);
        Assert.Contains("steady (median after the first)", r.Stdout);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "profile.json")));
        Assert.Equal(2, json.RootElement.GetProperty("epochs").GetInt32());
        Assert.Equal(2, json.RootElement.GetProperty("epoch_seconds").GetArrayLength());
    }

    [Fact]
    public void Without_profile_no_table_and_no_profile_json()
    {
        var data = SyntheticDataset.Create(count: 6, size: 32);
        var output = Path.Combine(Path.GetTempPath(), $"ukan-profile-{Guid.NewGuid():N}");
        var r = CliRunner.Run(Train(data, output));
        Assert.True(r.Code == 0, r.Stderr);
        Assert.DoesNotContain("ms per call", r.Stdout);
        Assert.False(File.Exists(Path.Combine(output, "profile.json")));
    }

    [Fact]
    public void A_resumed_run_can_be_profiled()
    {
        var data = SyntheticDataset.Create(count: 6, size: 32);
        var output = Path.Combine(Path.GetTempPath(), $"ukan-profile-{Guid.NewGuid():N}");
        Assert.Equal(0, CliRunner.Run(Train(data, output)).Code);
        var r = CliRunner.Run("train", "--resume", output, "--epochs", "3", "--profile");
        Assert.True(r.Code == 0, r.Stderr);
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "profile.json")));
        Assert.Equal(1, json.RootElement.GetProperty("epochs").GetInt32());
    }

    [Fact]
    public void Cudnn_autotune_is_recorded_in_the_run_and_kept_by_resume()
    {
        var data = SyntheticDataset.Create(count: 6, size: 32);
        var output = Path.Combine(Path.GetTempPath(), $"ukan-autotune-{Guid.NewGuid():N}");
        Assert.Equal(0, CliRunner.Run(Train(data, output, "--cudnn-autotune")).Code);
        Assert.True(UKan.Training.TrainConfig.Load(Path.Combine(output, "config.json")).CudnnAutotune);
        var other = Path.Combine(Path.GetTempPath(), $"ukan-autotune-{Guid.NewGuid():N}");
        Assert.Equal(0, CliRunner.Run(Train(data, other)).Code);
        Assert.False(UKan.Training.TrainConfig.Load(Path.Combine(other, "config.json")).CudnnAutotune);
        // --resume keeps the run's setting and refuses a different one instead of ignoring it.
        var r = CliRunner.Run("train", "--resume", other, "--epochs", "3", "--cudnn-autotune");
        Assert.Equal(2, r.Code);
        Assert.Contains("--cudnn-autotune", r.Stderr);
    }
}
