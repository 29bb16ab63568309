using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// KANLinear's dL/dx (<see cref="KanInputGradient"/>): where the fused kernel does not run (here, the CPU) it is dL/dF =
/// dL/dy · W followed by the features' backward, which must match the float64 formulation; the kernel itself is checked
/// by Native/KanProductEmulationTests and, on a GPU, by the selftest.
/// </summary>
public class KanInputGradientTests
{
    [Fact]
    public void On_the_cpu_it_is_the_product_then_the_features_backward()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(5);
        var knots = new BSplineBasis.UniformKnots(-2.2, 0.4, 8);
        var (dy, w, x) = (randn(40, 24, generator: gen), randn(24, 32 * 9, generator: gen) * 0.1, randn(40, 32, generator: gen));
        var expected = KanFeatures.Torch.Instance.BackwardInput(x.to(float64), dy.to(float64).matmul(w.to(float64)), knots);
        var gx = KanInputGradient.Backward(dy, w, x, knots);
        Assert.Equal(x.shape, gx.shape);
        TestTorch.AssertClose(expected, gx, 1e-5 * expected.abs().max().item<double>(), 0, "dL/dx");
    }
}
