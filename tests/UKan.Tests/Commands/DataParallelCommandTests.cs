using System.Text.Json;
using UKan.Training;

namespace UKan.Tests.Commands;

/// <summary>
/// <c>ukan train --devices cpu,cpu</c>: two worker processes started and supervised by the command, over loopback TCP;
/// then the same run continued on one process.
/// </summary>
public class DataParallelCommandTests
{
    static string TempRun() => Path.Combine(Path.GetTempPath(), $"ukan-ddp-{Guid.NewGuid():N}");

    static string[] Train(string data, string output, params string[] more) =>
        ["train", "--data", data, "--out", output, "--size", "64", "--embed-dims", "32,40,64", "--lr", "1e-3", "--val-every", "1", .. more];

    [Fact]
    public void A_two_worker_CPU_run_trains_like_one_process_with_the_global_batch_and_resumes_on_one_worker()
    {
        var data = SyntheticDataset.Create();
        var parallel = TempRun();
        var single = TempRun();
        var two = CliRunner.Run(Train(data, parallel, "--devices", "cpu,cpu", "--batch", "2", "--sync-bn", "--epochs", "1"));
        Assert.True(two.Code == 0, two.Stderr + two.Stdout);
        Assert.Contains("global batch 4", two.Stdout);
        var config = TrainConfig.Load(new RunFolder(parallel).Config);
        Assert.Equal(2, config.Devices);
        Assert.Equal(2, config.Batch);
        Assert.True(config.SyncBatchNorm);
        var one = CliRunner.Run(Train(data, single, "--batch", "4", "--epochs", "1"));
        Assert.True(one.Code == 0, one.Stderr);
        // Same data order, same initial weights, batch norm over the same 4 images: the same training loss up to float
        // rounding amplified by a few Adam steps.
        double lossParallel = new RunFolder(parallel).ReadMetrics()[0].Loss, lossSingle = new RunFolder(single).ReadMetrics()[0].Loss;
        Assert.True(Math.Abs(lossParallel - lossSingle) <= 1e-3 * Math.Abs(lossSingle), $"2 workers {lossParallel} vs 1 process {lossSingle}");

        // Continued on one process: the global batch (4) is kept, so the per-device batch becomes 4.
        var resumed = CliRunner.Run("train", "--resume", parallel, "--epochs", "2");
        Assert.True(resumed.Code == 0, resumed.Stderr);
        var after = TrainConfig.Load(new RunFolder(parallel).Config);
        Assert.Equal((1, 4), (after.Devices, after.Batch));
        Assert.Equal([0, 1], new RunFolder(parallel).ReadMetrics().Select(r => r.Epoch));
        using var state = JsonDocument.Parse(File.ReadAllText(new RunFolder(parallel).Config));
        Assert.True(state.RootElement.GetProperty("sync_batch_norm").GetBoolean());
    }

    [Fact]
    public void Device_lists_are_checked_before_anything_starts()
    {
        var data = SyntheticDataset.Create(count: 8);
        var output = TempRun();
        foreach (var (args, message) in new[]
        {
            (new[] { "--devices", "cpu,cuda:0" }, "mixes"),
            (["--devices", "cuda:0,cuda:0"], "twice"),
            (["--devices", "gpu0"], "not a device"),
            (["--gpus", "0"], "at least 1"),
            (["--gpus", "2", "--devices", "cpu,cpu"], "both"),
        })
        {
            var r = CliRunner.Run(Train(data, output, [.. args, "--epochs", "1"]));
            Assert.Equal(2, r.Code);
            Assert.Contains(message, r.Stderr);
            Assert.False(Directory.Exists(output));
        }
    }
}
