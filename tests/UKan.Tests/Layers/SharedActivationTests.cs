using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Layers;

public class SharedActivationTests
{
    static SharedActivation Make(SharedActivationOptions? options = null, long seed = 0)
    {
        _ = TestTorch.Runtime;
        manual_seed(seed);
        return new SharedActivation(options);
    }

    /// <summary>ψ in float64 with coefficients and scales far from their initial values, so that every term matters.</summary>
    static SharedActivation Perturbed(SplineGradient gradient, BaseActivation activation = BaseActivation.SiLU, int order = 3)
    {
        var psi = Make(new SharedActivationOptions { Gradient = gradient, BaseActivation = activation, SplineOrder = order });
        psi.to(float64);
        using (no_grad())
        {
            // A private generator: parallel tests share the global one, and every mode must get the same ψ.
            psi.Coefficients.copy_(randn(psi.BasisCount, dtype: float64, generator: new Generator(5)));
            psi.BaseScale!.fill_(0.7);
            psi.SplineScale!.fill_(1.3);
        }
        return psi;
    }

    [Fact]
    public void Psi_is_elementwise_on_any_shape_and_starts_as_silu_plus_a_small_spline()
    {
        var psi = Make();
        var u = randn(2, 3, 4, 5) * 1.5;
        var y = psi.call(u);
        Assert.Equal(u.shape, y.shape);
        // |Σ c_j B_j| ≤ max|c| because the bases are non-negative and sum to at most 1.
        Assert.True((y - F.silu(u)).abs().max().item<float>() <= 0.01f);
        // Element-wise: the value at one position does not depend on the others.
        TestTorch.AssertClose(y[1, 2, 3, 4], psi.call(u[1, 2, 3, 4].reshape(1)).squeeze(), atol: 1e-7, what: "element");
    }

    [Fact]
    public void Has_ten_parameters_with_the_spec_names_and_initial_values()
    {
        var psi = Make();
        Assert.Equal(["base_scale", "coef", "spline_scale"], psi.state_dict().Keys.Order().ToArray());
        Assert.Equal(10, psi.parameters().Sum(p => p.numel()));
        Assert.Equal(1f, psi.BaseScale!.item<float>());
        Assert.Equal(1f, psi.SplineScale!.item<float>());
        // c ~ U(-1/2, 1/2)·0.1/5: within ±0.01 and not all tiny.
        var c = psi.Coefficients.abs();
        Assert.True(c.max().item<float>() <= 0.01f && c.max().item<float>() > 0.003f);
    }

    [Fact]
    public void Fixing_the_scales_removes_their_parameters()
    {
        Assert.Equal(9, Make(new SharedActivationOptions { LearnBaseScale = false }).parameters().Sum(p => p.numel()));
        var bare = Make(new SharedActivationOptions { LearnBaseScale = false, LearnSplineScale = false });
        Assert.Equal(["coef"], bare.state_dict().Keys.ToArray());
        var u = randn(50);
        TestTorch.AssertClose(F.silu(u) + matmul(bare.Basis(u), bare.Coefficients), bare.call(u), atol: 1e-7, what: "psi");
    }

    [Fact]
    public void Least_squares_init_reproduces_small_noise_at_the_grid_points()
    {
        var psi = Make(new SharedActivationOptions { CoefficientInit = CoefficientInit.LeastSquares });
        var points = linspace(-1, 1, 6);
        var spline = matmul(psi.Basis(points), psi.Coefficients);
        Assert.InRange(spline.abs().max().item<float>(), 0.002, 0.0101);
    }

    [Fact]
    public void Outside_the_knots_only_the_base_branch_acts()
    {
        var psi = Make();
        var u = tensor(new[] { -7f, -2.3f, 2.25f, 9f });
        TestTorch.AssertClose(F.silu(u), psi.call(u), atol: 0, rtol: 0, what: "outside");
    }

    [Theory]
    [InlineData(SplineGradient.Exact)]
    [InlineData(SplineGradient.GradFree)]
    public void Fast_path_agrees_with_the_recursion_in_values_and_gradients(SplineGradient gradient)
    {
        var psi = Make(new SharedActivationOptions { Gradient = gradient });
        var u = (randn(300) * 1.5).requires_grad_(true);
        psi.Path = KanPath.Fast;
        var fast = psi.call(u);
        var gFast = autograd.grad([fast.pow(2).sum()], [u, psi.Coefficients]);
        psi.Path = KanPath.General;
        var general = psi.call(u);
        var gGeneral = autograd.grad([general.pow(2).sum()], [u, psi.Coefficients]);
        TestTorch.AssertClose(general, fast, atol: 1e-6, rtol: 1e-6, what: "psi");
        for (int i = 0; i < 2; i++) TestTorch.AssertClose(gGeneral[i], gFast[i], atol: 1e-5, rtol: 1e-5, what: $"grad {i}");
    }

    [Theory]
    [InlineData(BaseActivation.SiLU)]
    [InlineData(BaseActivation.Identity)]
    [InlineData(BaseActivation.ReLU)]
    [InlineData(BaseActivation.GELU)]
    [InlineData(BaseActivation.Tanh)]
    public void Hand_written_base_derivatives_match_autograd(BaseActivation kind)
    {
        _ = TestTorch.Runtime;
        var x = (randn(200, dtype: float64) * 3).requires_grad_(true);
        var expected = autograd.grad([BaseActivations.Apply(kind, x).sum()], [x])[0];
        TestTorch.AssertClose(expected, BaseActivations.Derivative(kind, x.detach()), atol: 1e-12, rtol: 1e-12, what: kind.ToString());
    }

    /// <summary>
    /// Item 2(a): with Grad-Free on, ∂L/∂u is the exact gradient minus the spline-derivative term g·w_s·s'(u), where
    /// s'(u) = Σ c_j B'_j(u) comes from the analytic derivative in BSplineBasis; the exact gradient is itself checked
    /// against g·(w_b·b'(u) + w_s·s'(u)).
    /// </summary>
    [Theory]
    [InlineData(3, BaseActivation.SiLU)]
    [InlineData(3, BaseActivation.GELU)]
    [InlineData(2, BaseActivation.SiLU)]
    public void Grad_free_input_gradient_is_the_exact_one_without_the_spline_derivative(int order, BaseActivation activation)
    {
        var exact = Perturbed(SplineGradient.Exact, activation, order);
        var free = Perturbed(SplineGradient.GradFree, activation, order);
        Assert.Equal(order == 3, exact.UsesFastPath);
        var u = (randn(4, 250, dtype: float64) * 1.5).requires_grad_(true);
        var g = randn(4, 250, dtype: float64);

        var gExact = autograd.grad([(exact.call(u) * g).sum()], [u])[0];
        var gFree = autograd.grad([(free.call(u) * g).sum()], [u])[0];

        var splineTerm = g * 1.3 * exact.SplineDerivative(u.detach());
        var baseTerm = g * 0.7 * BaseActivations.Derivative(activation, u.detach());
        TestTorch.AssertClose(baseTerm + splineTerm, gExact, atol: 1e-10, rtol: 1e-10, what: "exact = base + spline terms");
        TestTorch.AssertClose(gExact - splineTerm, gFree, atol: 1e-10, rtol: 1e-10, what: "grad-free = exact - spline term");
        Assert.True(splineTerm.abs().max().item<double>() > 0.1, "the dropped term is not negligible in this test");
    }

    /// <summary>Item 2(b): the parameters' gradients do not depend on the mode; the recompute modes match their plain twins.</summary>
    [Fact]
    public void Parameter_gradients_are_the_same_in_every_mode_and_recompute_matches()
    {
        _ = TestTorch.Runtime;
        var u = (randn(3, 7, 40, dtype: float64) * 1.5).requires_grad_(true);
        var g = randn(3, 7, 40, dtype: float64);
        var modes = Enum.GetValues<SplineGradient>();
        var results = modes.ToDictionary(m => m, m =>
        {
            var psi = Perturbed(m);
            var y = psi.call(u);
            var grads = autograd.grad([(y * g).sum()], [u, psi.Coefficients, psi.BaseScale!, psi.SplineScale!]);
            return (Y: y.detach(), Grads: grads);
        });
        var reference = results[SplineGradient.Exact];
        foreach (var m in modes)
        {
            TestTorch.AssertClose(reference.Y, results[m].Y, atol: 1e-12, rtol: 1e-12, what: $"{m} psi");
            for (int i = 1; i < 4; i++)
                TestTorch.AssertClose(reference.Grads[i], results[m].Grads[i], atol: 1e-10, rtol: 1e-10, what: $"{m} parameter grad {i}");
        }
        TestTorch.AssertClose(results[SplineGradient.GradFree].Grads[0], results[SplineGradient.GradFreeRecompute].Grads[0], atol: 1e-12, rtol: 1e-12, what: "grad-free recompute du");
        TestTorch.AssertClose(reference.Grads[0], results[SplineGradient.ExactRecompute].Grads[0], atol: 1e-10, rtol: 1e-10, what: "exact recompute du");
    }

    [Fact]
    public void Recompute_handles_fixed_scales_constant_inputs_and_no_grad()
    {
        var psi = Make(new SharedActivationOptions { Gradient = SplineGradient.GradFreeRecompute, LearnBaseScale = false });
        var u = randn(30);
        psi.call(u).sum().backward();                                   // u needs no gradient
        Assert.True(psi.Coefficients.grad is not null && psi.SplineScale!.grad is not null);
        using (no_grad()) Assert.Equal(u.shape, psi.call(u).shape);
        var x = randn(30).requires_grad_(true);
        psi.call(x).sum().backward();
        TestTorch.AssertClose(BaseActivations.Derivative(BaseActivation.SiLU, x.detach()), x.grad!, atol: 1e-6, what: "du = w_b·silu'(u), w_b fixed at 1");
    }
}
