using TorchSharp;
using UKan.Losses;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Training;

/// <summary>
/// The start-up warm-up runs training- and eval-mode passes through the trainer's own model: it must leave the model
/// exactly as it found it (weights, batch norm statistics and counters, no gradient, training mode), so that a run
/// with the warm-up is the run without it. On the CPU here; the trainer uses it on CUDA only, where the same code runs.
/// </summary>
public class StartupWarmupTests
{
    static readonly ModelSpec Spec = new() { EmbedDims = [32, 40, 64], Preset = "tiny" };

    static List<(string Name, Tensor Value)> State(nn.Module model) =>
        model.state_dict().Select(kv => (kv.Key, kv.Value.clone())).ToList();

    static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    [Fact]
    public void The_model_is_left_exactly_as_it_was()
    {
        _ = TestTorch.Runtime;
        manual_seed(5);
        var model = ModelFactory.Create(Spec);
        model.train();
        var before = State(model);
        Assert.Contains(before, s => s.Name.EndsWith("running_var"));

        using (var warmup = StartupWarmup.Start(model, () => new BceDiceLoss(), 2, 3, 1, 32, 32, CPU, channelsLast: false,
                   sideStream: false, Precision.Fp32, seed: 5))
            Assert.Null(warmup.Finish());

        var after = State(model);
        Assert.Equal(before.Select(s => s.Name), after.Select(s => s.Name));
        for (int i = 0; i < before.Count; i++)
            Assert.True(Same(before[i].Value, after[i].Value), $"{before[i].Name} changed");
        Assert.All(model.parameters(), p => Assert.True(p.grad is null || p.grad.abs().max().item<float>() == 0));
        Assert.True(model.training);

        // Not vacuous: the same training-mode pass without the warm-up's bookkeeping does move the statistics.
        new BceDiceLoss().call(model.call(zeros(2, 3, 32, 32)), zeros(2, 1, 32, 32)).backward();
        var moved = State(model);
        Assert.Contains(Enumerable.Range(0, before.Count), i => !Same(before[i].Value, moved[i].Value));
    }

    [Fact]
    public void A_failure_is_reported_not_thrown_and_still_restores_the_model()
    {
        _ = TestTorch.Runtime;
        manual_seed(6);
        var model = ModelFactory.Create(Spec);
        var before = State(model);
        // 2 input channels for a 3-channel model: the first convolution fails inside the warm-up thread.
        using var warmup = StartupWarmup.Start(model, () => new BceDiceLoss(), 2, 2, 1, 32, 32, CPU, false, false, Precision.Fp32, 6);
        Assert.False(string.IsNullOrEmpty(warmup.Finish()));
        var after = State(model);
        for (int i = 0; i < before.Count; i++) Assert.True(Same(before[i].Value, after[i].Value), $"{before[i].Name} changed");
    }
}
