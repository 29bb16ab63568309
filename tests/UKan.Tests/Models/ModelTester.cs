using TorchSharp;
using UKan.Losses;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Models;

/// <summary>
/// The one model tester every segmentation architecture and preset runs (after segmentation_models.pytorch's
/// BaseModelTester): shapes for any channel and class count, any input size, gradients reaching every parameter,
/// a save/load round trip, and the parameter counts the papers and the official code give. Parity with the
/// official outputs lives in the data-driven Parity tests. Add an architecture by deriving a class.
/// </summary>
public abstract class ModelTester
{
    /// <summary>A small spec of the architecture under test (CPU tests must stay fast).</summary>
    protected abstract ModelSpec SmallSpec { get; }

    /// <summary>Input sides must be multiples of this (2^halvings): 32 on U-KAN's skeleton, 16 for the convolutional U-Nets.</summary>
    protected virtual int SizeMultiple => 32;

    /// <summary>
    /// Parameters whose gradient is zero by construction in training mode, e.g. the bias of a convolution whose output goes
    /// straight into a one-channel BatchNorm (the batch mean removes it exactly).
    /// </summary>
    protected virtual bool HasNoGradientByDesign(string parameter) => false;

    /// <summary>(spec, expected trainable parameters) pairs the papers or the official code fix.</summary>
    protected virtual IEnumerable<(ModelSpec Spec, long Parameters)> KnownCounts => [];

    protected static nn.Module<Tensor, Tensor> Build(ModelSpec spec, long seed = 0)
    {
        _ = TestTorch.Runtime;
        manual_seed(seed);
        return ModelFactory.Create(spec);
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(1, 2)]
    public void Output_has_one_logit_map_per_class_at_input_resolution(int inChannels, int classes)
    {
        var model = Build(SmallSpec with { InChannels = inChannels, NumClasses = classes });
        model.eval();
        using var _ = no_grad();
        var y = model.call(randn(2, inChannels, 64, 64));
        Assert.Equal([2L, classes, 64, 64], y.shape);
        Assert.True(y.isfinite().all().item<bool>());
    }

    [Theory]
    [InlineData(32, 32)]
    [InlineData(64, 96)]
    public void Any_size_that_is_a_multiple_of_32_works(int h, int w)
    {
        var model = Build(SmallSpec);
        model.eval();
        using var _ = no_grad();
        Assert.Equal([1L, 1, h, w], model.call(randn(1, 3, h, w)).shape);
    }

    [Fact]
    public void Other_sizes_are_refused_with_a_user_error()
    {
        var model = Build(SmallSpec);
        using var _ = no_grad();
        var e = Assert.Throws<UserError>(() => model.call(randn(1, 3, 50, 64)));
        Assert.Contains($"multiples of {SizeMultiple}", e.Message);
    }

    [Fact]
    public void Fresh_model_is_finite_and_its_norms_start_as_identity() => TestTorch.AssertFreshlyInitialised(Build(SmallSpec));

    [Fact]
    public void Gradients_reach_every_parameter()
    {
        var model = Build(SmallSpec);
        model.train();
        var x = randn(2, 3, 64, 64);
        var target = (randn(2, 1, 64, 64) > 0.5).to(float32);
        new BceDiceLoss().call(model.call(x), target).backward();
        foreach (var (name, p) in model.named_parameters())
        {
            Assert.True(p.grad is not null, $"{name} has no gradient");
            Assert.True(p.grad!.isfinite().all().item<bool>(), $"{name} has a non-finite gradient");
            if (!HasNoGradientByDesign(name)) Assert.True(p.grad.abs().sum().item<float>() > 0, $"{name} has an all-zero gradient");
        }
    }

    [Fact]
    public void State_round_trip_preserves_outputs()
    {
        var a = Build(SmallSpec, seed: 1);
        var b = Build(SmallSpec, seed: 2);
        TestTorch.CopyState(a, b);
        a.eval(); b.eval();
        using var _ = no_grad();
        var x = randn(2, 3, 64, 64);
        TestTorch.AssertClose(a.call(x), b.call(x), atol: 0, rtol: 0, what: "round trip");
    }

    [Fact]
    public void Parameter_counts_match_the_published_ones()
    {
        foreach (var (spec, count) in KnownCounts)
            Assert.Equal(count, ModelFactory.CountParameters(Build(spec)));
    }
}

public sealed class SegUKanModelTests : ModelTester
{
    protected override ModelSpec SmallSpec => new() { EmbedDims = [32, 40, 64], Preset = "tiny" };

    protected override IEnumerable<(ModelSpec, long)> KnownCounts =>
    [
        (new ModelSpec { EmbedDims = ModelPresets.Resolve("paper") }, 6_356_689),
        (new ModelSpec { EmbedDims = ModelPresets.Resolve("large") }, 25_359_265),
        (new ModelSpec { EmbedDims = ModelPresets.Resolve("tiny") }, 403_621),
    ];
}

public sealed class SegUKanMlpModelTests : ModelTester
{
    protected override ModelSpec SmallSpec => new() { EmbedDims = [32, 40, 64], Mixer = TokenMixer.Mlp, Preset = "tiny" };

    protected override IEnumerable<(ModelSpec, long)> KnownCounts =>
    [
        (new ModelSpec { EmbedDims = ModelPresets.Resolve("paper"), Mixer = TokenMixer.Mlp }, 2_764_561),
        (new ModelSpec { EmbedDims = ModelPresets.Resolve("tiny"), Mixer = TokenMixer.Mlp }, 179_509),
    ];
}
