using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Training;

/// <summary>
/// KANLinear's weight gradients written straight into the optimizer's flat buffer during a gathered backward
/// (<see cref="DirectGradients"/>): the same floats as when autograd hands them to the gather, also when one backward
/// pass brings a parameter two gradients or backward runs twice before the gather. The torch formulation stands in for
/// the CUDA kernels through <see cref="KanWeightBatch"/>'s node, which is what takes the places.
/// </summary>
public class DirectGradientsTests
{
    static DirectGradientsTests() => _ = TestTorch.Runtime;

    sealed class Run : IDisposable
    {
        public required KanLinear[] Layers { get; init; }
        public required FlatAdam Optimizer { get; init; }
        public void Dispose() => Optimizer.Dispose();
    }

    static Run Start()
    {
        torch.manual_seed(3);
        KanLinear[] layers = [new(4, 5) { Path = KanPath.Fast }, new(5, 3, new KanLinearOptions { StandaloneSplineScaler = false }) { Path = KanPath.Fast }];
        var named = layers.SelectMany((l, i) => l.named_parameters().Select(p => ($"{i}.{p.name}", p.parameter))).ToList();
        return new Run { Layers = layers, Optimizer = new FlatAdam([(new GroupSettings("all", 1e-3, 0), named)]) };
    }

    /// <summary>One forward and backward with the layers' weights from one batch node; <paramref name="twice"/> runs the first layer twice.</summary>
    static void ForwardBackward(KanLinear[] layers, bool twice)
    {
        var x = linspace(-1.1, 1.3, 6 * 4).reshape(6, 4);
        using var batch = KanWeightBatch.Assemble(layers, KanWeight.Torch.Instance);
        var h = layers[0].call(x);
        if (twice) h = h + layers[0].call(x);
        layers[1].call(h).pow(2).sum().backward();
    }

    static Tensor[] Gathered(bool direct, bool twice, int passes)
    {
        using var run = Start();
        return FlatAdam.WithDirectGradients(direct, () =>
        {
            run.Optimizer.ReleaseGrads();
            for (int i = 0; i < passes; i++) ForwardBackward(run.Layers, twice);
            run.Optimizer.GatherGrads();
            return run.Optimizer.Groups[0].Members.Select(m => m.Parameter.grad!.clone()).Append(run.Optimizer.Groups[0].Grads.clone()).ToArray();
        });
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]    // one backward brings layer 0 two gradients (its weight used twice): still one node call
    [InlineData(false, 2)]   // two backward passes before the gather: the second goes to autograd and is added
    public void The_flat_buffer_holds_the_gradients_autograd_would_hand_to_the_gather(bool twice, int passes)
    {
        var direct = Gathered(direct: true, twice, passes);
        var handed = Gathered(direct: false, twice, passes);
        Assert.Equal(handed.Length, direct.Length);
        for (int i = 0; i < direct.Length; i++)
            Assert.True(direct[i].equal(handed[i]).all().item<bool>(), $"gradient {i} differs");
        Assert.True(handed[^1].abs().sum().item<float>() > 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void With_direct_gradients_autograd_hands_the_KAN_weights_none(bool direct)
    {
        using var run = Start();
        FlatAdam.WithDirectGradients(direct, () =>
        {
            run.Optimizer.ReleaseGrads();
            ForwardBackward(run.Layers, twice: false);
            foreach (var layer in run.Layers)
                foreach (var p in new[] { layer.BaseWeight, layer.SplineWeight, layer.SplineScaler }.OfType<Parameter>())
                    Assert.Equal(direct, p.grad is null);
            run.Optimizer.GatherGrads();
            return 0;
        });
    }

    [Fact]
    public void A_place_is_taken_once_and_only_where_it_was_opened()
    {
        var p = new Parameter(zeros(2, 3));
        var other = new Parameter(zeros(2, 3));
        using var view = zeros(2, 3);
        DirectGradients.Open([(p, view)]);
        using (var first = DirectGradients.Take(p)) Assert.NotNull(first);
        Assert.Null(DirectGradients.Take(p));
        Assert.Null(DirectGradients.Take(other));
        Assert.True(DirectGradients.Close(p));
        Assert.False(DirectGradients.Close(p));
        DirectGradients.Open([(p, view.t())]);                    // not contiguous: never handed out
        Assert.Null(DirectGradients.Take(p));
        Assert.False(DirectGradients.Close(p));
    }
}
