using TorchSharp;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Training;

/// <summary>
/// The start-up warm-up trains a throwaway model of the run's architecture on a background thread while the trainer
/// checks and loads the data. It must not change the run: its model draws its weights from torch's global generator,
/// so once <see cref="StartupWarmup.WaitForModel"/> returns, the run's seeding and model must be exactly what they are
/// without a warm-up. On the CPU here; the trainer starts it on CUDA only, where the same code runs.
/// </summary>
public class StartupWarmupTests
{
    static TrainConfig Config(int size = 32) => new()
    {
        Data = "unused", Output = "unused", Batch = 2, Height = size, Width = size,
        Model = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" },
    };

    static List<Tensor> Weights(nn.Module model) => model.state_dict().Values.Select(v => v.clone()).ToList();

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void A_run_seeded_after_WaitForModel_gets_the_weights_it_gets_without_a_warm_up()
    {
        _ = TestTorch.Runtime;
        manual_seed(7);
        using var alone = ModelFactory.Create(Config().Model);
        var expected = Weights(alone);

        manual_seed(123);   // whatever the generator held before the run
        using (var warmup = new StartupWarmup(Config(), CPU))
        {
            warmup.WaitForModel();
            manual_seed(7);
            using var model = ModelFactory.Create(Config().Model);
            var actual = Weights(model);
            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++) Assert.True(Same(expected[i], actual[i]), $"tensor {i} differs");
            // The whole warm-up (training step with the optimizer, eval pass) ran without error on the run's shapes.
            Assert.Null(warmup.Finish());
        }

        // Not vacuous: a model made while the generator is not re-seeded differs.
        using var other = ModelFactory.Create(Config().Model);
        Assert.Contains(Enumerable.Range(0, expected.Count), i => !Same(expected[i], Weights(other)[i]));
    }

    [Fact]
    public void A_failure_is_reported_as_one_line_not_thrown()
    {
        _ = TestTorch.Runtime;
        // 40²: not a multiple of 32, so the decoder's upsampled maps do not match the skip connections (a size the
        // trainer's validation refuses; the warm-up itself does not check).
        using var warmup = new StartupWarmup(Config(size: 40), CPU);
        warmup.WaitForModel();
        var failure = warmup.Finish();
        Assert.False(string.IsNullOrEmpty(failure));
        Assert.DoesNotContain('\n', failure);
    }

    [Fact]
    public void It_is_on_by_default_and_UKAN_WARMUP_off_turns_it_off()
    {
        var before = Environment.GetEnvironmentVariable("UKAN_WARMUP");
        try
        {
            Environment.SetEnvironmentVariable("UKAN_WARMUP", null);
            Assert.True(StartupWarmup.Enabled);
            Environment.SetEnvironmentVariable("UKAN_WARMUP", "off");
            Assert.False(StartupWarmup.Enabled);
            // Where it does not apply, no thread is started.
            Environment.SetEnvironmentVariable("UKAN_WARMUP", null);
            Assert.Null(StartupWarmup.Begin(Config(), CPU));
        }
        finally { Environment.SetEnvironmentVariable("UKAN_WARMUP", before); }
    }
}
