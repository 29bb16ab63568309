using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using UKan.Losses;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Models;

/// <summary>
/// The one model tester every segmentation architecture and preset runs (after segmentation_models.pytorch's
/// BaseModelTester): on top of <see cref="NetworkTester"/>'s checks (initialisation, gradients reaching every
/// parameter with the BCE+Dice loss, a save/load round trip, the published parameter counts), shapes for any channel
/// and class count and any input size, and the refusal of other sizes. Parity with the official outputs lives in the
/// data-driven Parity tests. Add an architecture by deriving a class.
/// </summary>
public abstract class ModelTester : NetworkTester
{
    /// <summary>A small spec of the architecture under test (CPU tests must stay fast).</summary>
    protected abstract ModelSpec SmallSpec { get; }

    /// <summary>Input sides must be multiples of this (2^halvings): 32 on U-KAN's skeleton, 16 for the convolutional U-Nets.</summary>
    protected virtual int SizeMultiple => 32;

    /// <summary>(spec, expected trainable parameters) pairs the papers or the official code fix.</summary>
    protected virtual IEnumerable<(ModelSpec Spec, long Parameters)> KnownCounts => [];

    protected static nn.Module<Tensor, Tensor> Build(ModelSpec spec, long seed = 0) => Seeded(seed, () => ModelFactory.Create(spec));

    protected override nn.Module BuildSmall(long seed) => Build(SmallSpec, seed);

    protected override Tensor[] SmallInputs() => [randn(2, 3, 64, 64)];

    protected override Tensor Run(nn.Module model, Tensor[] inputs) => ((nn.Module<Tensor, Tensor>)model).call(inputs[0]);

    protected override Tensor Loss(Tensor output) => new BceDiceLoss().call(output, (randn(output.shape) > 0.5).to(float32));

    // As the trainer's step (ModelLoss): with deep supervision the mean loss over every head's output.
    protected override Tensor TrainingLoss(nn.Module model, Tensor[] inputs)
    {
        var x = inputs[0];
        var target = (randn(x.shape[0], ((ISegmentationModel)model).Spec.NumClasses, x.shape[2], x.shape[3]) > 0.5).to(float32);
        return ModelLoss.Of((nn.Module<Tensor, Tensor>)model, new BceDiceLoss(), x, target).Loss;
    }

    protected override IEnumerable<(Func<long> Count, long Published)> PublishedCounts =>
        KnownCounts.Select(k => ((Func<long>)(() => ModelFactory.CountParameters(Build(k.Spec))), k.Parameters));

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

    /// <summary>
    /// True where every BatchNorm2d follows a plain nn.Conv2d, so that folding leaves none; false where BNs follow KAN
    /// convolutions (ALL U-KAN's KAonv, the stacked-KAN baseline), which keep theirs.
    /// </summary>
    protected virtual bool EveryBatchNormFollowsAConv2d => true;

    [Fact]
    public void Folding_batch_norm_keeps_outputs_and_state_dict()
    {
        var model = Build(SmallSpec, seed: 1);
        // Statistics and affine parameters far from a fresh BN's identity, so that a wrong fold shows.
        var norms = UKan.Diagnostics.BatchNormStatistics.Perturb(model);
        Assert.NotEmpty(norms);
        using var _ = no_grad();
        model.eval();
        var before = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());
        int applied = 0;
        foreach (var bn in norms) bn.register_forward_hook((m, input, output) => { applied++; return output; });
        var x = randn(2, 3, 64, 64);
        var reference = model.call(x);
        int appliedUnfolded = applied;
        applied = 0;

        int pairs = BatchNormFold.Apply(model);
        var folded = model.call(x);

        Assert.Equal(norms.Count, appliedUnfolded);
        if (EveryBatchNormFollowsAConv2d)
        {
            Assert.Equal(norms.Count, pairs);
            Assert.Equal(0, applied);
        }
        else Assert.Equal(appliedUnfolded - pairs, applied);
        double error = (folded - reference).abs().max().item<float>(), scale = reference.abs().max().item<float>();
        Assert.True(error <= 1e-5 * scale, $"folded outputs differ by {error:G3} (outputs up to {scale:G3})");
        var after = model.state_dict();
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (key, value) in before) Assert.True(value.equal(after[key]).all().item<bool>(), $"{key} changed in the fold");
        if (pairs > 0)
        {
            model.train();
            Assert.Throws<InvalidOperationException>(() => model.call(x));
        }
    }

    [Fact]
    public void Other_sizes_are_refused_with_a_user_error()
    {
        var model = Build(SmallSpec);
        using var _ = no_grad();
        var e = Assert.Throws<UserError>(() => model.call(randn(1, 3, 50, 64)));
        Assert.Contains($"multiples of {SizeMultiple}", e.Message);
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
