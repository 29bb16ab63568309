using TorchSharp;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Models;

/// <summary>
/// The checks every network of the toolkit runs, whatever its inputs and outputs (segmentation models, the DDPM
/// noise predictors, Inception): a fresh network is finite with identity norms, gradients reach every trainable
/// parameter, a state round trip preserves the outputs exactly, and the parameter counts the papers and the official
/// code give. A derived tester says how to build a small network, feed it and score its output; the kind-specific
/// checks live there (<see cref="ModelTester"/> for segmentation, DiffusionModelTester, InceptionModelTests).
/// </summary>
public abstract class NetworkTester
{
    /// <summary>A small network of the kind under test, initialised after torch's generator is seeded with <paramref name="seed"/>.</summary>
    protected abstract nn.Module BuildSmall(long seed);

    /// <summary>A batch of inputs for <see cref="BuildSmall"/>'s network (fresh random tensors on every call).</summary>
    protected abstract Tensor[] SmallInputs();

    /// <summary>The network's output for <paramref name="inputs"/>.</summary>
    protected abstract Tensor Run(nn.Module model, Tensor[] inputs);

    /// <summary>A scalar training loss of <paramref name="output"/>, through which every trainable parameter matters.</summary>
    protected abstract Tensor Loss(Tensor output);

    /// <summary>
    /// The loss one training step backpropagates for <paramref name="inputs"/>: <see cref="Loss"/> of <see cref="Run"/> by
    /// default; a kind whose training sees more than the output (deep supervision's auxiliary heads) says so here.
    /// </summary>
    protected virtual Tensor TrainingLoss(nn.Module model, Tensor[] inputs) => Loss(Run(model, inputs));

    /// <summary>(trainable parameters counted, as the papers or the official code give them) pairs.</summary>
    protected virtual IEnumerable<(Func<long> Count, long Published)> PublishedCounts => [];

    /// <summary>
    /// Parameters the gradient check skips: none by default, so that a parameter frozen by mistake fails it; a
    /// network with parameters frozen on purpose (the DDPM's sinusoidal time table) names them here.
    /// </summary>
    protected virtual bool IsFrozenOnPurpose(string name, TorchSharp.Modules.Parameter parameter) => false;

    /// <summary>
    /// Parameters whose gradient is zero by construction in training mode, e.g. the bias of a convolution whose output goes
    /// straight into a one-channel BatchNorm (the batch mean removes it exactly).
    /// </summary>
    protected virtual bool HasNoGradientByDesign(string parameter) => false;

    protected static T Seeded<T>(long seed, Func<T> build)
    {
        _ = TestTorch.Runtime;
        manual_seed(seed);
        return build();
    }

    [Fact]
    public void Fresh_model_is_finite_and_its_norms_start_as_identity() => TestTorch.AssertFreshlyInitialised(BuildSmall(0));

    [Fact]
    public void Gradients_reach_every_parameter()
    {
        var model = BuildSmall(0);
        model.train();
        var inputs = SmallInputs();
        TrainingLoss(model, inputs).backward();
        var withoutGradient = new List<string>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (IsFrozenOnPurpose(name, p)) continue;
            if (p.grad is null)
            {
                withoutGradient.Add(name);
                continue;
            }
            Assert.True(p.grad.isfinite().all().item<bool>(), $"{name} has a non-finite gradient");
            if (!HasNoGradientByDesign(name)) Assert.True(p.grad.abs().sum().item<float>() > 0, $"{name} has an all-zero gradient");
        }
        // Only the bias of a convolution that feeds a training-mode batch norm may be left out of the forward
        // (ConvBatchNorm): the official computation gives it nothing but rounding noise, far below its weight's gradient.
        using (no_grad()) foreach (var p in model.parameters()) p.grad?.zero_();
        UKan.Layers.ConvBatchNorm.With(false, () => TrainingLoss(model, inputs)).backward();
        var official = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad);
        foreach (var name in withoutGradient)
            UKan.Tests.Layers.ConvBatchNormTests.AssertOfficialGradientIsNoise(official, name, "without a gradient");
    }

    [Fact]
    public void State_round_trip_preserves_outputs()
    {
        var a = BuildSmall(1);
        var b = BuildSmall(2);
        TestTorch.CopyState(a, b);
        a.eval(); b.eval();
        using var _ = no_grad();
        var x = SmallInputs();
        TestTorch.AssertClose(Run(a, x), Run(b, x), atol: 0, rtol: 0, what: "round trip");
    }

    [Fact]
    public void Parameter_counts_match_the_published_ones()
    {
        _ = TestTorch.Runtime;
        foreach (var (count, published) in PublishedCounts)
            Assert.Equal(published, count());
    }
}
