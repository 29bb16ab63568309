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
        var node = NodeAgainstTorch([(6, 7, scaled)], gen);
        Assert.Equal(scaled ? 3 : 2, node);
    }

    /// <summary>Several layers in one node (as <see cref="KanWeightBatch"/> builds them): each parameter gets its own layer's gradient.</summary>
    [Fact]
    public void One_node_for_several_layers_has_each_layers_gradients()
    {
        var gen = new Generator(9);
        Assert.Equal(8, NodeAgainstTorch([(6, 7, true), (3, 5, false), (4, 4, true)], gen));
    }

    /// <summary>The weights and the parameters' gradients of the node against autograd through the torch formulation; returns how many gradients were compared.</summary>
    static int NodeAgainstTorch((int O, int I, bool Scaled)[] shapes, Generator gen)
    {
        var parameters = shapes.Select(l => (B: randn(l.O, l.I, generator: gen), S: randn(l.O, l.I, 8, generator: gen),
            C: l.Scaled ? randn(l.O, l.I, generator: gen) : null)).ToArray();
        var g = shapes.Select(l => randn(l.O, l.I * 9, generator: gen)).ToArray();
        Tensor[] Gradients(Func<KanWeightParts[], Tensor[]> fuse, out Tensor[] w)
        {
            var leaves = parameters.Select(p => new[] { p.B, p.S, p.C }.Where(t => t is not null).Select(t => t!.detach().requires_grad_(true)).ToArray()).ToArray();
            w = fuse([.. leaves.Select(l => new KanWeightParts(l[0], l[1], l.Length > 2 ? l[2] : null))]);
            var loss = w.Select((t, i) => (t * g[i]).sum()).Aggregate((a, b) => a + b);
            return autograd.grad([loss], [.. leaves.SelectMany(l => l)]).ToArray();
        }
        var node = Gradients(parts => KanWeight.Apply(parts, KanWeight.Torch.Instance), out var wNode);
        var reference = Gradients(parts => [.. parts.Select(KanWeight.Torch.Forward)], out var wReference);
        for (int i = 0; i < wNode.Length; i++) Assert.True(wNode[i].equal(wReference[i]).all().item<bool>(), $"weight {i}");
        Assert.Equal(reference.Length, node.Length);
        for (int i = 0; i < node.Length; i++)
            TestTorch.AssertClose(reference[i], node[i], 1e-6, 1e-5, $"gradient {i}");
        return node.Length;
    }

    /// <summary>A layer whose weight is not used gets no gradient from the node; the others get theirs.</summary>
    [Fact]
    public void A_layer_left_out_of_the_loss_gets_no_gradient()
    {
        var a = (B: randn(2, 3).requires_grad_(true), S: randn(2, 3, 4).requires_grad_(true));
        var b = (B: randn(2, 3).requires_grad_(true), S: randn(2, 3, 4).requires_grad_(true));
        var w = KanWeight.Apply([new(a.B, a.S, null), new(b.B, b.S, null)], KanWeight.Torch.Instance);
        w[1].sum().backward();
        Assert.Null(a.B.grad);
        Assert.Null(a.S.grad);
        Assert.True(b.B.grad!.equal(ones(2, 3)).all().item<bool>());
        Assert.True(b.S.grad!.equal(ones(2, 3, 4)).all().item<bool>());
    }

    [Fact]
    public void Only_the_gradients_asked_for_are_computed()
    {
        var (gb, gs, gsc) = KanWeight.Torch.Backward(ones(2, 2 * 4), new(ones(2, 2), ones(2, 2, 3), ones(2, 2)), new(Base: false, Spline: true, Scaler: false));
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
        Assert.Null(KanWeight.KernelsFor([new(zeros(3, 4), zeros(3, 4, 8), zeros(3, 4))]));
    }
}
