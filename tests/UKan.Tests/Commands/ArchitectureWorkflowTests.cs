using UKan.Layers;
using UKan.Models;

namespace UKan.Tests.Commands;

/// <summary>
/// Every segmentation architecture goes through the same CLI workflow (train → eval → predict) and its options
/// survive the round trip through the run folder and the exported weights.
/// </summary>
public class ArchitectureWorkflowTests
{
    static int Run(params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.True(r.Code == 0, $"ukan {string.Join(' ', args)} exited with {r.Code}: {r.Stderr}");
        return r.Code;
    }

    [Theory]
    [InlineData("ukan", null)]
    [InlineData("allukan", """{"activation":{"gradient":"grad-free-recompute"},"sharing":"block"}""")]
    [InlineData("stacked-kan", null)]
    public void Trains_evaluates_and_predicts_through_the_cli(string model, string? options)
    {
        var data = SyntheticDataset.Create(count: 6, size: 32);
        var run = Path.Combine(Path.GetTempPath(), $"ukan-arch-{Guid.NewGuid():N}");
        var predictions = run + "-pred";
        string[] extra = options is null ? [] : ["--arch-options", options];
        Run(["train", "--data", data, "--out", run, "--model", model, "--preset", "tiny", "--size", "32", "--epochs", "1", "--batch", "2", .. extra]);
        Run("eval", run, "--data", data);
        Run("predict", "--weights", Path.Combine(run, "model.safetensors"), Path.Combine(data, "images"), "--out", predictions);
        Assert.Equal(6, Directory.GetFiles(predictions, "*.png").Length);

        var (_, spec) = ModelLoader.Load(Path.Combine(run, "model.safetensors"));
        Assert.Equal(model switch { "allukan" => Architecture.AllUKan, "stacked-kan" => Architecture.StackedKan, _ => Architecture.UKan }, spec.Architecture);
        if (options is not null)
        {
            var read = spec.ReadOptions<AllUKanOptions>();
            Assert.Equal(SplineGradient.GradFreeRecompute, read.Activation.Gradient);
            Assert.Equal(ActivationSharing.Block, read.Sharing);
        }
    }
}
