using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// <see cref="KanWeightBatch"/>: while a batch is open every layer's forward takes the weight built with the others (one
/// node for all), and outputs and every parameter's gradient are those of the layers building their own. The torch
/// formulation stands in for the CUDA kernels (which the emulation tests and <c>ukan selftest</c> compare with it).
/// </summary>
public class KanWeightBatchTests
{
    static KanWeightBatchTests() => _ = TestTorch.Runtime;

    /// <summary>A stack of KANLinears of varied widths, each with and without the spline scaler; more than one launch's worth when asked.</summary>
    static KanLinear[] Stack(int count)
    {
        torch.manual_seed(11);
        return [.. Enumerable.Range(0, count).Select(i => new KanLinear(3 + i % 3, 3 + (i + 1) % 3,
            new KanLinearOptions { StandaloneSplineScaler = i % 2 == 0 }) { Path = KanPath.Fast })];
    }

    static (Tensor Y, Tensor[] Grads) Run(KanLinear[] layers, bool batched)
    {
        foreach (var p in layers.SelectMany(l => l.parameters())) p.grad = null;
        var x = linspace(-1.2, 1.2, 4 * 3).reshape(4, 3);
        using (var batch = batched ? KanWeightBatch.Assemble(layers, KanWeight.Torch.Instance) : null)
            foreach (var layer in layers) x = layer.call(x);
        x.pow(2).sum().backward();
        return (x.detach(), [.. layers.SelectMany(l => l.parameters()).Select(p => p.grad!.clone())]);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(KanWeight.MaxLayers + 2)]   // two launches' worth
    public void Outputs_and_gradients_are_those_of_the_layers_on_their_own(int count)
    {
        var layers = Stack(count);
        var (y, grads) = Run(layers, batched: false);
        var (yb, gradsBatched) = Run(layers, batched: true);
        Assert.True(y.equal(yb).all().item<bool>(), "outputs");
        Assert.Equal(grads.Length, gradsBatched.Length);
        for (int i = 0; i < grads.Length; i++)
            TestTorch.AssertClose(grads[i], gradsBatched[i], 1e-6, 1e-5, $"gradient {i}");
    }

    [Fact]
    public void The_layers_build_their_own_weight_again_once_the_batch_is_disposed()
    {
        var layers = Stack(2);
        Tensor inside;
        using (KanWeightBatch.Assemble(layers, KanWeight.Torch.Instance))
        {
            inside = layers[0].FusedWeight();
            Assert.True(inside.requires_grad);
            Assert.True(inside.equal(KanWeight.Torch.Forward(layers[0].WeightParts)).all().item<bool>());
        }
        using (no_grad())
            layers[0].BaseWeight.add_(1);
        var after = layers[0].FusedWeight();
        Assert.False(after.equal(inside.detach()).all().item<bool>(), "the weight after the batch follows the parameters");
    }

    [Fact]
    public void On_the_CPU_no_batch_is_made()
    {
        Assert.Null(KanWeightBatch.Assemble(Stack(3)));
    }
}
