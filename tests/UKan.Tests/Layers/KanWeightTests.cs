using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// KANLinear's fused weight (<see cref="KanWeight"/>): its layout against the features it is contracted with, and the
/// autograd node's gradients (here computed by the torch formulation, the reference of the CUDA kernels, which
/// <c>ukan selftest --device cuda</c> and the emulation tests compare with it) against autograd through torch's
/// multiply and concatenation.
/// </summary>
public class KanWeightTests
{
    static KanWeightTests() => _ = TestTorch.Runtime;

    [Fact]
    public void The_weight_interleaves_the_base_weight_and_the_scaled_spline_coefficients_per_input()
    {
        var gen = new Generator(3);
        var baseWeight = randn(3, 4, generator: gen);
        var spline = randn(3, 4, 5, generator: gen);
        var scaler = randn(3, 4, generator: gen);
        var w = KanWeight.Fuse(baseWeight, spline, scaler).view(3, 4, 6);
        for (int o = 0; o < 3; o++)
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(baseWeight[o, i].item<float>(), w[o, i, 0].item<float>());
                for (int k = 0; k < 5; k++)
                    Assert.Equal(spline[o, i, k].item<float>() * scaler[o, i].item<float>(), w[o, i, 1 + k].item<float>(), 6);
            }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_node_has_the_gradients_of_the_torch_formulation(bool scaled)
    {
        var gen = new Generator(5);
        var baseWeight = randn(6, 7, generator: gen);
        var spline = randn(6, 7, 8, generator: gen);
        var scaler = scaled ? randn(6, 7, generator: gen) : null;
        var g = randn(6, 7 * 9, generator: gen);
        Tensor[] Gradients(Func<Tensor, Tensor, Tensor?, Tensor> fuse, out Tensor w)
        {
            var b = baseWeight.detach().requires_grad_(true);
            var s = spline.detach().requires_grad_(true);
            var c = scaler?.detach().requires_grad_(true);
            w = fuse(b, s, c);
            return autograd.grad([(w * g).sum()], c is null ? [b, s] : [b, s, c]).ToArray();
        }
        var node = Gradients((b, s, c) => KanWeight.Apply(b, s, c, KanWeight.Torch.Instance), out var wNode);
        var reference = Gradients(KanWeight.Torch.Instance.KanWeightForward, out var wReference);
        Assert.True(wNode.equal(wReference).all().item<bool>());
        Assert.Equal(reference.Length, node.Length);
        for (int i = 0; i < node.Length; i++)
            TestTorch.AssertClose(reference[i], node[i], 1e-6, 1e-5, $"gradient {i}");
    }

    [Fact]
    public void Only_the_gradients_asked_for_are_computed()
    {
        var (gb, gs, gsc) = KanWeight.Torch.Instance.KanWeightBackward(ones(2, 2 * 4), ones(2, 2, 3), ones(2, 2), needBase: false, needSpline: true, needScaler: false);
        Assert.Null(gb);
        Assert.NotNull(gs);
        Assert.Null(gsc);
    }

    [Fact]
    public void The_kernels_take_float32_contiguous_weights_of_matching_shapes()
    {
        Assert.True(KanWeight.Takes(zeros(3, 4), zeros(3, 4, 8), zeros(3, 4)));
        Assert.True(KanWeight.Takes(zeros(3, 4), zeros(3, 4, 8), null));
        Assert.False(KanWeight.Takes(zeros(3, 5), zeros(3, 4, 8), null));
        Assert.False(KanWeight.Takes(zeros(3, 4), zeros(3, 4, 8), zeros(4, 3)));
        Assert.False(KanWeight.Takes(zeros(3, 4), zeros(4, 3, 8).transpose(0, 1), null));
        Assert.False(KanWeight.Takes(zeros(3, 4, dtype: float64), zeros(3, 4, 8, dtype: float64), null));
        // On the CPU the torch formulation runs, never the kernels.
        Assert.Null(KanWeight.KernelsFor(zeros(3, 4), zeros(3, 4, 8), zeros(3, 4)));
    }
}
