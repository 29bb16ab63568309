using UKan.Diagnostics;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// Folding with the ReLU after each conv → BN pair taken into the folded convolution (<see cref="FoldedConv.Relu"/>):
/// the models whose pairs are all followed by a ReLU (U-KAN: the encoder's and decoder's double convolutions and the
/// KAN blocks' depthwise conv → BN → ReLU; U-Net: its double convolutions) keep their outputs and state dict. On the
/// CPU the folded convolution adds its bias and applies ReLU as PyTorch does (the fused kernel is CUDA-only).
/// </summary>
public class FoldedConvReluTests
{
    public static TheoryData<string> Models => ["ukan", "unet"];

    static ModelSpec Spec(string name) => name == "ukan"
        ? new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" }
        : new ModelSpec { Architecture = Architecture.UNet }.WithOptions(new ConvUNetOptions { Width = 8 });

    [Theory]
    [MemberData(nameof(Models))]
    public void A_model_folded_with_its_relus_absorbed_gives_the_unfolded_output(string name)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(11);
        var model = ModelFactory.Create(Spec(name));
        var norms = BatchNormStatistics.Perturb(model);
        model.eval();
        var keys = model.state_dict().Keys.Order().ToList();
        var x = randn(2, 3, 64, 64);
        Tensor reference;
        using (no_grad()) reference = model.call(x);

        int pairs = BatchNormFold.Apply(model);
        var folded = model.named_modules().Select(m => m.module).OfType<FoldedConv>().ToList();
        Assert.Equal(norms.Count, pairs);
        if (name == "ukan") Assert.Equal(28, pairs);   // 16 in the double convolutions, 12 in the four KAN blocks
        Assert.Equal(pairs, folded.Count);
        Assert.All(folded, f => Assert.True(f.Relu, "every pair of this model is followed by a ReLU, which the fold must take"));
        Assert.Equal(keys, model.state_dict().Keys.Order().ToList());

        Tensor output;
        using (no_grad()) output = model.call(x);
        AssertClose(reference, output, "folded, inference");
        // With an autograd graph (an input that needs its gradient) the ReLU must not run in place on a saved tensor.
        var xg = x.clone().requires_grad_(true);
        var withGraph = model.call(xg);
        AssertClose(reference, withGraph.detach(), "folded, with autograd");
        withGraph.sum().backward();
        Assert.True(xg.grad is { } g && g.isfinite().all().item<bool>() && g.abs().sum().item<float>() > 0,
            "no input gradient through the folded model");
    }

    [Fact]
    public void A_folded_pair_without_its_relu_refuses_to_run_where_no_relu_follows()
    {
        _ = TestTorch.Runtime;
        manual_seed(12);
        var conv = nn.Conv2d(3, 4, 3, padding: 1);
        var bn = nn.BatchNorm2d(4);
        bn.eval();
        var folded = BatchNormFold.Pair(conv, bn, relu: true)!;
        using var noGrad = no_grad();
        var x = randn(1, 3, 5, 5);
        Assert.Throws<InvalidOperationException>(() => ConvBatchNorm.Forward(conv, bn, folded, x));
        var expected = bn.call(conv.call(x)).relu();
        var actual = ConvBatchNorm.Forward(conv, bn, folded, x, nn.ReLU());
        AssertClose(expected, actual, "pair + ReLU");
        Assert.True(actual.eq(0).any().item<bool>(), "the data must reach the ReLU's zero side");
    }

    static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double error = (actual - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
        Assert.True(error <= 1e-5 * scale, $"{what}: outputs differ by {error:G3} (outputs up to {scale:G3})");
    }
}
