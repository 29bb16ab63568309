using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

public class KanLinearTests
{
    [Theory]
    [InlineData(8, 4)]
    [InlineData(33, 17)]
    public void Fast_path_agrees_with_the_general_path_to_1e_6_in_outputs_and_gradients(int inF, int outF)
    {
        _ = TestTorch.Runtime;
        manual_seed(7);
        var layer = new KanLinear(inF, outF);
        Assert.True(layer.UsesFastPath);
        var x = (randn(64, inF) * 1.5).requires_grad_(true);

        layer.Path = KanPath.Fast;
        var yFast = layer.call(x);
        var gFast = torch.autograd.grad([yFast.pow(2).sum()], [x, layer.SplineWeight, layer.BaseWeight]);
        layer.Path = KanPath.General;
        var yGeneral = layer.call(x);
        var gGeneral = torch.autograd.grad([yGeneral.pow(2).sum()], [x, layer.SplineWeight, layer.BaseWeight]);

        TestTorch.AssertClose(yGeneral, yFast, atol: 1e-6, rtol: 1e-6, what: "y");
        for (int i = 0; i < 3; i++) TestTorch.AssertClose(gGeneral[i], gFast[i], atol: 1e-5, rtol: 1e-5, what: $"grad {i}");
    }

    /// <summary>
    /// The fast path keeps the features from forward for the backward products; with UKAN_KAN_KEEP_FEATURES=off it
    /// computes them again: the same kernel on the same x, so the gradients are the same bits. A backward after the
    /// forward's handle of the features was disposed (the Drop after apply) still finds them through autograd.
    /// </summary>
    [Fact]
    public void Kept_features_give_the_gradients_of_recomputed_ones_bit_for_bit()
    {
        _ = TestTorch.Runtime;
        manual_seed(11);
        var layer = new KanLinear(12, 5);
        var x = (randn(40, 12) * 1.5).requires_grad_(true);
        Tensor[] Gradients(bool keep) => KanLinearFunction.With(keep, () =>
        {
            var y = layer.call(x);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return torch.autograd.grad([y.pow(2).sum()], [x, layer.SplineWeight, layer.BaseWeight, layer.SplineScaler!]).ToArray();
        });
        var (kept, recomputed) = (Gradients(true), Gradients(false));
        for (int i = 0; i < kept.Length; i++) Assert.True(kept[i].eq(recomputed[i]).all().item<bool>(), $"gradient {i} differs");
        Assert.True(kept[0].abs().sum().item<float>() > 0, "the gradients must not be zero");
    }

    [Fact]
    public void State_dict_has_the_official_names_and_shapes()
    {
        _ = TestTorch.Runtime;
        var layer = new KanLinear(6, 3, new KanLinearOptions { GridSize = 4, SplineOrder = 2 });
        var sd = layer.state_dict();
        Assert.Equal(["base_weight", "grid", "spline_scaler", "spline_weight"], sd.Keys.Order().ToArray());
        Assert.Equal([3L, 6, 6], sd["spline_weight"].shape);
        Assert.Equal([6L, 4 + 2 * 2 + 1], sd["grid"].shape);
        Assert.Equal(10 * 6 * 3 - 0, new KanLinear(6, 3).parameters().Sum(p => p.numel()));
    }

    [Fact]
    public void Initialisation_follows_the_reference_scales()
    {
        _ = TestTorch.Runtime;
        manual_seed(3);
        var layer = new KanLinear(256, 128);
        var bound = 1 / Math.Sqrt(256);
        Assert.InRange(layer.BaseWeight.abs().max().item<float>(), bound * 0.95, bound);
        Assert.InRange(layer.SplineScaler!.abs().max().item<float>(), bound * 0.95, bound);
        // The spline at the grid points reproduces noise of amplitude scale_noise/(2G) = 0.01.
        using var points = layer.Grid.T.narrow(0, 3, 6);
        var values = einsum("pik,oik->pio", layer.BSplines(points), layer.SplineWeight);
        Assert.InRange(values.abs().max().item<float>(), 0.008, 0.0101);
    }

    [Fact]
    public void Other_orders_and_activations_take_the_general_path()
    {
        _ = TestTorch.Runtime;
        var quadratic = new KanLinear(4, 2, new KanLinearOptions { SplineOrder = 2 });
        Assert.False(quadratic.UsesFastPath);
        var y = quadratic.call(randn(5, 4));
        Assert.Equal([5L, 2], y.shape);
        var id = new KanLinear(4, 2, new KanLinearOptions { BaseActivation = BaseActivation.Identity });
        Assert.Equal([2L, 3, 2], id.call(randn(2, 3, 4)).shape);
    }
}
