using TorchSharp;
using UKan.Models.Diffusion;
using UKan.Tests.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Diffusion;

/// <summary>
/// The DDPM noise predictors through the generic <see cref="NetworkTester"/>: the network takes (x_t, t) and predicts
/// ε with x_t's shape. At the official configuration (ch 64, mult 1-2-3-4, 2 residual blocks), the smallest there is.
/// </summary>
public abstract class DiffusionModelTester : NetworkTester
{
    protected abstract DiffusionArchitecture Architecture { get; }

    /// <summary>Trainable parameters at the official configuration.</summary>
    protected abstract long PublishedParameters { get; }

    // Dropout off: the round trip compares two evaluations, and the gradient check wants every unit to matter.
    protected override nn.Module BuildSmall(long seed) => Seeded(seed, () => DdpmBackbone.Create(Architecture, dropout: 0));

    protected override Tensor[] SmallInputs() => [randn(2, 3, 64, 64), tensor(new long[] { 3, 999 })];

    protected override Tensor Run(nn.Module model, Tensor[] inputs) => ((DdpmBackbone)model).call(inputs[0], inputs[1]);

    protected override Tensor Loss(Tensor output) => output.pow(2).mean();

    protected override IEnumerable<(Func<long> Count, long Published)> PublishedCounts =>
        [(() => DdpmBackbone.Create(Architecture).TrainableParameters(), PublishedParameters)];

    /// <summary>The sinusoidal table of the time embedding is a fixed parameter, as in the official code.</summary>
    protected override bool IsFrozenOnPurpose(string name, TorchSharp.Modules.Parameter parameter) => name.StartsWith("time_embedding.") && !parameter.requires_grad;

    [Fact]
    public void Predicts_noise_of_the_image_shape_that_depends_on_the_timestep()
    {
        var model = BuildSmall(0);
        model.eval();
        using var _ = no_grad();
        var x = randn(2, 3, 64, 64);
        var eps = Run(model, [x, tensor(new long[] { 3, 999 })]);
        Assert.Equal(x.shape, eps.shape);
        Assert.True(eps.isfinite().all().item<bool>(), "non-finite noise prediction");
        // Compared exactly: the official initialisation scales the last conv of every residual block and of the tail
        // by 1e-5, so at the start t moves the output by far less than allclose's tolerances.
        var other = Run(model, [x, tensor(new long[] { 500, 10 })]);
        Assert.False(eps.eq(other).all().item<bool>(), "the prediction ignores t");
    }
}

/// <summary>
/// UKan_Hybrid: the official count (fixture json). UNet and UMLP follow from the same blocks and agree with counts made
/// by hand from Diffusion_UKAN/Diffusion/UNet.py and Model_UMLP.py (≈20.76 M, ≈23.07 M). The official UMLP also
/// declares a LayerNorm dnorm4 that its forward never uses; it is left out here (512 parameters).
/// </summary>
public sealed class UKanHybridModelTests : DiffusionModelTester
{
    protected override DiffusionArchitecture Architecture => DiffusionArchitecture.UKanHybrid;
    protected override long PublishedParameters => 26_807_811;
}

public sealed class DdpmUNetModelTests : DiffusionModelTester
{
    protected override DiffusionArchitecture Architecture => DiffusionArchitecture.UNet;
    protected override long PublishedParameters => 20_761_923;
}

public sealed class UMlpModelTests : DiffusionModelTester
{
    protected override DiffusionArchitecture Architecture => DiffusionArchitecture.UMlp;
    protected override long PublishedParameters => 23_074_563;
}
