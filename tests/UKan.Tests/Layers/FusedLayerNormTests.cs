using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// The torch formulation of the fused LayerNorm (<see cref="FusedLayerNorm.Torch"/>, the CUDA kernels' reference) against
/// nn.LayerNorm and autograd through it, as a node (<see cref="FusedLayerNorm.Apply"/>) on the CPU; and where the fused
/// path applies.
/// </summary>
public class FusedLayerNormTests
{
    static FusedLayerNormTests() => _ = TestTorch.Runtime;

    [Theory]
    [InlineData(2, 64, 160)]
    [InlineData(3, 5, 37)]
    public void The_node_computes_layer_norm_and_its_gradients(int batch, int tokens, int c)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(43);
        var norm = nn.LayerNorm(c);
        using (no_grad())
        {
            norm.weight!.copy_(rand(c, generator: gen) + 0.5);
            norm.bias!.copy_(randn(c, generator: gen) * 0.2);
        }
        var x0 = randn(batch, tokens, c, generator: gen) * 2 + 0.7;
        var gy = randn(batch, tokens, c, generator: gen);
        (Tensor Y, Tensor[] Grads) Run(Func<Tensor, Tensor> f)
        {
            var x = x0.detach().requires_grad_(true);
            var y = f(x);
            return (y, autograd.grad([(y * gy).sum()], [x, norm.weight!, norm.bias!]).ToArray());
        }
        var (ym, gm) = Run(x => norm.call(x));
        var (yn, gn) = Run(x => FusedLayerNorm.Apply(norm, x, FusedLayerNorm.Torch.Instance));
        TestTorch.AssertClose(ym, yn, 1e-5, 1e-5, "output");
        TestTorch.AssertClose(gm[0], gn[0], 1e-5, 1e-4, "dx");
        TestTorch.AssertClose(gm[1], gn[1], 1e-4, 1e-4, "dw");
        TestTorch.AssertClose(gm[2], gn[2], 1e-4, 1e-4, "db");
    }

    /// <summary>
    /// With an input bias (the patch embedding's convolution bias, handed to the node): the node on x against the module
    /// on x + b, and b's gradient (the node's own argument) against autograd through the addition.
    /// </summary>
    [Fact]
    public void The_node_adds_an_input_bias_and_gives_its_gradient()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(47);
        const int c = 40;
        var norm = nn.LayerNorm(c);
        var x0 = randn(2, 9, c, generator: gen);
        var b0 = randn(c, generator: gen) * 3;
        var gy = randn(2, 9, c, generator: gen);
        (Tensor Y, Tensor[] Grads) Run(Func<Tensor, Tensor, Tensor> f)
        {
            var (x, b) = (x0.detach().requires_grad_(true), b0.detach().requires_grad_(true));
            var y = f(x, b);
            return (y, autograd.grad([(y * gy).sum()], [x, b, norm.weight!, norm.bias!]).ToArray());
        }
        var (ym, gm) = Run((x, b) => norm.call(x + b));
        var (yn, gn) = Run((x, b) => FusedLayerNorm.Apply(norm, x, FusedLayerNorm.Torch.Instance, inputBias: b));
        TestTorch.AssertClose(ym, yn, 1e-5, 1e-5, "output");
        string[] names = ["dx", "d(input bias)", "dw", "db"];
        for (int i = 0; i < 4; i++) TestTorch.AssertClose(gm[i], gn[i], 1e-4, 1e-4, names[i]);
        // Without a fused path (the CPU), Forward adds the bias before the module: the same output.
        TestTorch.AssertClose(ym, FusedLayerNorm.Forward(norm, x0, b0), 1e-6, 1e-6, "Forward's fallback");
    }

    [Fact]
    public void The_fused_path_takes_contiguous_rows_of_at_most_512_with_float32_parameters()
    {
        using var scope = NewDisposeScope();
        var (w, b) = (ones(160), zeros(160));
        Assert.True(FusedLayerNorm.Takes(zeros(4, 160), w, b));
        Assert.True(FusedLayerNorm.Takes(zeros(4, 160, dtype: bfloat16), w, b));
        Assert.False(FusedLayerNorm.Takes(zeros(160, 4).t(), w, b));                 // not contiguous
        Assert.False(FusedLayerNorm.Takes(zeros(4, 160, dtype: float64), w, b));
        Assert.False(FusedLayerNorm.Takes(zeros(4, 160), w.to(bfloat16), b));
        Assert.False(FusedLayerNorm.Takes(zeros(4, 513), ones(513), zeros(513)));   // wider than a warp's registers hold
        Assert.False(FusedLayerNorm.Takes(zeros(4, 160), null, b));
        // On the CPU the module runs (the fused kernels are CUDA only), whatever the input.
        var norm = nn.LayerNorm(160);
        Assert.Null(FusedLayerNorm.KernelsFor(norm, zeros(4, 160)));
    }
}
