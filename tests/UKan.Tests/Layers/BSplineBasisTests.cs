using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

public class BSplineBasisTests
{
    static Tensor Inputs(long n, double lo = -3, double hi = 3)
    {
        _ = TestTorch.Runtime;
        var g = new Generator(1234);
        return rand(n, 16, generator: g) * (hi - lo) + lo;   // covers inside and outside the knot span
    }

    [Theory]
    [InlineData(5, -1.0, 1.0)]
    [InlineData(8, -2.0, 3.0)]
    [InlineData(3, 0.0, 1.0)]
    public void Closed_form_cubic_equals_Cox_de_Boor_to_1e_6(int gridSize, double lo, double hi)
    {
        var x = Inputs(4096, lo - 1.5, hi + 1.5);
        using var knots = BSplineBasis.MakeKnots(gridSize, 3, lo, hi);
        var grid = knots.expand(16, -1);
        var reference = BSplineBasis.CoxDeBoor(x.to(float64), grid.to(float64), 3);
        var uniform = BSplineBasis.TryUniform(grid, 3);
        Assert.NotNull(uniform);
        Assert.Equal(gridSize + 3, uniform.Value.BasisCount);
        TestTorch.AssertClose(reference, BSplineBasis.UniformCubic(x, uniform.Value), atol: 1e-6, rtol: 0, what: "closed form");
        TestTorch.AssertClose(reference, BSplineBasis.CoxDeBoor(x, grid, 3), atol: 1e-6, rtol: 0, what: "float32 recursion");
    }

    [Fact]
    public void Bases_form_a_partition_of_unity_inside_the_grid_and_vanish_outside()
    {
        _ = TestTorch.Runtime;
        using var knots = BSplineBasis.MakeKnots(5, 3, -1, 1);
        var inside = linspace(-1, 0.999, 101).to(float64);
        var sums = BSplineBasis.CoxDeBoor(inside, knots.to(float64), 3).sum(-1);
        TestTorch.AssertClose(ones_like(sums), sums, atol: 1e-12, rtol: 0, what: "sum of bases");
        var outside = tensor(new double[] { -2.3, -5, 2.21, 7 });
        Assert.Equal(0.0, BSplineBasis.CoxDeBoor(outside, knots.to(float64), 3).abs().sum().item<double>());
    }

    [Fact]
    public void Analytic_derivatives_match_autograd()
    {
        var x = Inputs(512).to(float64).requires_grad_(true);
        using var knots = BSplineBasis.MakeKnots(5, 3, -1, 1);
        var grid = knots.to(float64);
        var uniform = BSplineBasis.TryUniform(grid, 3)!.Value;
        var weights = randn(8, dtype: float64);
        var spline = (BSplineBasis.CoxDeBoor(x, grid, 3) * weights).sum();
        var autograd = torch.autograd.grad([spline], [x])[0];
        var general = (BSplineBasis.CoxDeBoorDerivative(x.detach(), grid, 3) * weights).sum(-1);
        var closed = (BSplineBasis.UniformCubicDerivative(x.detach(), uniform) * weights).sum(-1);
        TestTorch.AssertClose(autograd, general, atol: 1e-10, rtol: 0, what: "Cox-de Boor derivative");
        // The closed form assumes exactly equal spacing; float32 knots deviate by ~1e-7 relative.
        TestTorch.AssertClose(autograd, closed, atol: 1e-5, rtol: 0, what: "closed-form derivative");
    }

    [Fact]
    public void Adapted_or_unequal_grids_are_not_taken_for_uniform()
    {
        _ = TestTorch.Runtime;
        using var knots = BSplineBasis.MakeKnots(5, 3, -1, 1);
        var bent = knots.clone();
        bent[5] = bent[5] + 0.05f;
        Assert.Null(BSplineBasis.TryUniform(bent, 3));
        var rows = stack([knots, knots * 2]);
        Assert.Null(BSplineBasis.TryUniform(rows, 3));
    }
}
