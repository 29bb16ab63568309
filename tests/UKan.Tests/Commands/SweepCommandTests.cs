using UKan.Training;

namespace UKan.Tests.Commands;

/// <summary><c>ukan sweep</c> on a tiny grid: two seeds of one model trained as child processes, then called again.</summary>
public class SweepCommandTests
{
    static string Demo => UKan.Cli.Commands.DemoCommand.FindDemoData();

    [Fact]
    public void A_sweep_trains_its_grid_writes_one_table_and_a_second_call_trains_nothing()
    {
        var output = Path.Combine(Path.GetTempPath(), $"ukan-sweep-{Guid.NewGuid():N}");
        string[] args = ["sweep", "--data", Demo, "--seeds", "2981,6142", "--models", "ukan", "--per-gpu", "2", "--out", output,
            "--epochs", "1", "--size", "64", "--embed-dims", "32,40,64", "--batch", "4", "--device", "cpu"];
        var first = CliRunner.Run(args);
        Assert.True(first.Code == 0, first.Stderr + first.Stdout);
        Assert.Contains("0 done, 2 to train", first.Stdout);
        foreach (var seed in new[] { 2981, 6142 })
        {
            var run = new RunFolder(Path.Combine(output, $"kvasir-seg-48-ukan-{seed}"));
            Assert.Single(run.ReadMetrics());
            Assert.Equal(seed, TrainConfig.Load(run.Config).DataSeed);
            Assert.Equal(64, TrainConfig.Load(run.Config).Height);   // a train option passed on
        }
        var csv = File.ReadAllLines(Path.Combine(output, "sweep.csv"));
        Assert.Equal("dataset,model,runs,iou_mean,iou_sd,dice_mean,dice_sd,iou_per_seed,run_folders", csv[0]);
        Assert.Equal(2, csv.Length);
        var cells = csv[1].Split(',');
        Assert.Equal(["kvasir-seg-48", "ukan", "2/2"], cells[..3]);
        var ious = new[] { 2981, 6142 }.Select(s => new RunFolder(Path.Combine(output, $"kvasir-seg-48-ukan-{s}")).ReadMetrics().Max(r => r.ValIou!.Value)).ToList();
        Assert.Equal(SweepGrid.MeanSd(ious).Mean.ToString("F4", System.Globalization.CultureInfo.InvariantCulture), cells[3]);
        Assert.Contains("| kvasir-seg-48 | ukan | 2/2 |", File.ReadAllText(Path.Combine(output, "sweep.md")));

        Assert.Equal(UKan.IO.RunDirectory.Sweep, UKan.IO.RunDirectory.Kind(output));
        var resume = CliRunner.Run("train", "--resume", output);
        Assert.Equal(2, resume.Code);
        Assert.Contains("a sweep folder", resume.Stderr);

        // A sweep folder from before sweeps were marked (only what a sweep writes) is taken up and marked.
        File.Delete(Path.Combine(output, UKan.IO.RunDirectory.MarkerName));
        var lastBefore = File.GetLastWriteTimeUtc(Path.Combine(output, "kvasir-seg-48-ukan-2981", "checkpoints", "last.safetensors"));
        var second = CliRunner.Run(args);
        Assert.True(second.Code == 0, second.Stderr);
        Assert.Contains("2 done, 0 to train", second.Stdout);
        Assert.DoesNotContain("started", second.Stdout);
        Assert.Equal(lastBefore, File.GetLastWriteTimeUtc(Path.Combine(output, "kvasir-seg-48-ukan-2981", "checkpoints", "last.safetensors")));
        Assert.Equal(csv, File.ReadAllLines(Path.Combine(output, "sweep.csv")));
        Assert.Equal(UKan.IO.RunDirectory.Sweep, UKan.IO.RunDirectory.Kind(output));
    }

    [Fact]
    public void Mean_and_sample_sd_over_seeds()
    {
        var (mean, sd) = SweepGrid.MeanSd([0.6, 0.7, 0.8]);
        Assert.Equal(0.7, mean, 12);
        Assert.Equal(0.1, sd, 12);
        Assert.Equal((0.5, 0.0), SweepGrid.MeanSd([0.5]));
        Assert.True(double.IsNaN(SweepGrid.MeanSd([]).Mean));
    }

    [Fact]
    public void A_folder_that_is_not_a_sweep_folder_is_refused_and_left_as_it_was()
    {
        var output = Path.Combine(Path.GetTempPath(), $"ukan-sweep-{Guid.NewGuid():N}");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "notes.txt"), "mine");
        File.WriteAllText(Path.Combine(output, "sweep.csv"), "my own table");
        var r = CliRunner.Run(["sweep", "--data", Demo, "--seeds", "1", "--models", "ukan", "--out", output, "--epochs", "1"]);
        Assert.Equal(2, r.Code);
        Assert.Contains("not a sweep folder", r.Stderr);
        Assert.Equal(["notes.txt", "sweep.csv"], Directory.EnumerateFileSystemEntries(output).Select(Path.GetFileName).Order().ToArray());
        Assert.Equal("my own table", File.ReadAllText(Path.Combine(output, "sweep.csv")));
    }

    [Fact]
    public void Bad_grids_are_refused_before_anything_runs()
    {
        var output = Path.Combine(Path.GetTempPath(), $"ukan-sweep-{Guid.NewGuid():N}");
        foreach (var (extra, message) in new[]
        {
            (new[] { "--models", "ukan,resnet" }, "unknown model"),
            (["--seeds", "1,x"], "not an integer"),
            (["--seeds", "1,1"], "twice"),
            (["--per-gpu", "0"], "at least 1"),
        })
        {
            var r = CliRunner.Run(["sweep", "--data", Demo, "--out", output, .. extra]);
            Assert.Equal(2, r.Code);
            Assert.Contains(message, r.Stderr);
            Assert.False(Directory.Exists(output));
        }
    }
}
