using UKan.Training;

namespace UKan.Tests.Commands;

/// <summary>
/// <c>ukan diffusion train --profile</c>: the phase table on stdout and profile.json in the run folder, in the shape of
/// the segmentation profile; every file of the epochs (written on the background writer) is there when the command ends.
/// </summary>
public class DiffusionProfileCommandTests
{
    [Fact]
    public void Profile_prints_the_phases_and_writes_profile_json()
    {
        // The smallest run that has a steady epoch: 2 images, batch 2, 2 epochs of 1 step; the last epoch samples.
        var data = SyntheticDataset.Create(count: 2, size: 32);
        var output = Path.Combine(Path.GetTempPath(), $"ukan-diffusion-profile-{Guid.NewGuid():N}");
        try
        {
            var r = CliRunner.Run("diffusion", "train", "--data", data, "--dataset", "generic", "--out", output, "--model", "umlp",
                "--batch", "2", "--epochs", "2", "--sample-every", "100", "--sample-count", "1", "--sample-ddim-steps", "1", "--profile");
            Assert.True(r.Code == 0, r.Stderr);
            foreach (var phase in TrainingProfile.DiffusionPhases) Assert.Contains(phase, r.Stdout);
            Assert.Contains("steady (median after the first)", r.Stdout);

            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "profile.json")));
            var root = json.RootElement;
            var phases = root.GetProperty("phases").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!,
                p => (Seconds: p.GetProperty("seconds").GetDouble(), Calls: p.GetProperty("calls").GetInt64()));
            Assert.Equal(TrainingProfile.DiffusionPhases, phases.Keys);
            // One step per epoch: the process's first, then one more; the epoch-end loss read is charged to step too.
            Assert.Equal(1, phases["first_step"].Calls);
            Assert.Equal(1 + 2, phases["step"].Calls);
            Assert.Equal(2, phases["data"].Calls);
            Assert.Equal(2, phases["checkpoint"].Calls);
            Assert.Equal(1, phases["sampling"].Calls);
            Assert.Equal(2, phases["logging"].Calls);
            Assert.Equal(1, phases["final_outputs"].Calls);
            foreach (var phase in new[] { "startup.data_load", "startup.model", "first_step", "step", "data", "checkpoint", "sampling" })
                Assert.True(phases[phase].Seconds > 0, $"{phase} was not timed");
            Assert.Equal(2, root.GetProperty("epochs").GetInt32());
            Assert.Equal(2, root.GetProperty("epoch_seconds").GetArrayLength());
            double total = root.GetProperty("total_seconds").GetDouble();
            Assert.InRange(phases.Values.Sum(p => p.Seconds), 0.5 * total, 1.01 * total);

            var run = new RunFolder(output);
            Assert.Equal(3, File.ReadAllLines(run.Metrics).Length);
            Assert.True(File.Exists(run.Last) && File.Exists(run.ExportedModel), "the background writer was not flushed before the command ended");
        }
        finally
        {
            Directory.Delete(data, true);
            if (Directory.Exists(output)) Directory.Delete(output, true);
        }
    }
}
