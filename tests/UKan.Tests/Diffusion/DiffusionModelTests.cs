using TorchSharp;
using UKan.Models.Diffusion;
using static TorchSharp.torch;

namespace UKan.Tests.Diffusion;

public class DiffusionModelTests
{
    /// <summary>
    /// Trainable parameters of the three noise predictors at the official configuration (ch 64, mult 1-2-3-4, 2
    /// residual blocks). UKan_Hybrid's count is the official one (fixture json); UNet and UMLP follow from the same
    /// blocks and agree with counts made by hand from Diffusion_UKAN/Diffusion/UNet.py and Model_UMLP.py (≈20.76 M, ≈23.07 M). The official UMLP also declares a
    /// LayerNorm dnorm4 that its forward never uses; it is left out here (512 parameters).
    /// </summary>
    [Theory]
    [InlineData(DiffusionArchitecture.UKanHybrid, 26_807_811)]
    [InlineData(DiffusionArchitecture.UNet, 20_761_923)]
    [InlineData(DiffusionArchitecture.UMlp, 23_074_563)]
    public void Parameter_counts(DiffusionArchitecture architecture, long expected)
    {
        _ = TestTorch.Runtime;
        Assert.Equal(expected, DdpmBackbone.Create(architecture).TrainableParameters());
    }

    [Theory]
    [InlineData(DiffusionArchitecture.UKanHybrid)]
    [InlineData(DiffusionArchitecture.UNet)]
    [InlineData(DiffusionArchitecture.UMlp)]
    public void Fresh_models_are_initialised(DiffusionArchitecture architecture)
    {
        _ = TestTorch.Runtime;
        TestTorch.AssertFreshlyInitialised(DdpmBackbone.Create(architecture));
    }

    [Theory]
    [InlineData(DiffusionArchitecture.UKanHybrid)]
    [InlineData(DiffusionArchitecture.UNet)]
    [InlineData(DiffusionArchitecture.UMlp)]
    public void Predicts_noise_of_the_image_shape_and_trains(DiffusionArchitecture architecture)
    {
        _ = TestTorch.Runtime;
        var model = DdpmBackbone.Create(architecture, dropout: 0);
        var x = randn(2, 3, 64, 64);
        var eps = model.call(x, tensor(new long[] { 3, 999 }));
        Assert.Equal(x.shape, eps.shape);
        Assert.True(eps.isfinite().all().item<bool>(), "non-finite noise prediction");
        eps.pow(2).mean().backward();
        Assert.All(model.parameters().Where(p => p.requires_grad), p => Assert.NotNull(p.grad));
    }
}
