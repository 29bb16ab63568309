using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// How gradients pass through the spline branch of ψ (docs/allukan.md §R.5, "Grad-Free Spline").
/// </summary>
public enum SplineGradient
{
    /// <summary>
    /// [review] The paper's default: the B-spline basis is computed without autograd, so c, w_s, w_b receive their
    /// exact gradients and the input receives only the base branch's w_b·b'(u); the w_s·s'(u) term is dropped.
    /// </summary>
    GradFree,
    /// <summary>
    /// [inferred] GradFree's gradients from a custom autograd function that keeps only u for backward and recomputes
    /// the basis there: about one saved float per element instead of K + 3.
    /// </summary>
    GradFreeRecompute,
    /// <summary>[inferred] Ablation "GF-off": autograd through the basis, every gradient exact.</summary>
    Exact,
    /// <summary>[inferred] Exact gradients (analytic s'(u) from <see cref="BSplineBasis"/>) with the recompute function's memory.</summary>
    ExactRecompute,
}

/// <summary>How the spline coefficients c start (docs/allukan.md §R.3, initialisation).</summary>
public enum CoefficientInit
{
    /// <summary>c_j ~ U(−½, ½)·scale_noise/G: ±0.01 with the defaults.</summary>
    Noise,
    /// <summary>efficient-kan's curve2coeff: the least-squares spline through that noise at the G+1 grid points.</summary>
    LeastSquares,
}

/// <summary>Options of one shared activation ψ; the defaults are the efficient-kan / U-KAN spline settings.</summary>
public sealed record SharedActivationOptions
{
    /// <summary>G: intervals of the grid inside [GridMin, GridMax]; K = G + k bases.</summary>
    public int GridSize { get; init; } = 5;
    /// <summary>k: 3 is cubic (and takes the closed-form fast path).</summary>
    public int SplineOrder { get; init; } = 3;
    public double GridMin { get; init; } = -1.0;
    public double GridMax { get; init; } = 1.0;
    /// <summary>b in ψ = w_b·b(u) + w_s·s(u). Under Grad-Free it is the only path into earlier layers, so it must not be flat.</summary>
    public BaseActivation BaseActivation { get; init; } = BaseActivation.SiLU;
    public double ScaleNoise { get; init; } = 0.1;
    public CoefficientInit CoefficientInit { get; init; } = CoefficientInit.Noise;
    /// <summary>Learnable w_b (true) or w_b fixed at 1 (docs/allukan.md §R.10).</summary>
    public bool LearnBaseScale { get; init; } = true;
    /// <summary>Learnable w_s (true) or w_s fixed at 1; w_s only rescales c, so dropping it loses no expressiveness.</summary>
    public bool LearnSplineScale { get; init; } = true;
    public SplineGradient Gradient { get; init; } = SplineGradient.GradFree;

    public static SharedActivationOptions Default { get; } = new();
}

/// <summary>
/// The shared activation of SaKAN ("Share-activation KAN", ALL U-KAN, arXiv 2602.03156; docs/allukan.md §R.3):
/// ψ(u) = w_b·b(u) + w_s·Σ_j c_j B_j(u), one learnable univariate function applied element-wise to a tensor of any
/// shape. It plays the role of Sprecher's single inner function; the KA / KAonv layers that own it put one scalar λ on
/// every edge. Learnable: c (K = G + k), w_b, w_s — 10 scalars with the defaults.
/// </summary>
/// <remarks>
/// State-dict names: <c>coef</c> (K), <c>base_scale</c> (1), <c>spline_scale</c> (1). The knots are not stored: they
/// follow from the options and never move (U-KAN never calls update_grid, docs/allukan.md §R.3).
/// The basis comes from <see cref="BSplineBasis"/> by the same rule as <see cref="KanLinear"/>: closed-form cubic when
/// k = 3 (<see cref="KanPath.Auto"/>), Cox–de Boor otherwise. One instance may be shared by several layers (docs/allukan.md §R.10):
/// TorchSharp lists a shared module's parameters once.
/// </remarks>
public sealed class SharedActivation : nn.Module<Tensor, Tensor>, IMacCounter
{
    private readonly Parameter coef;
    private readonly Parameter? base_scale;
    private readonly Parameter? spline_scale;

    readonly BSplineBasis.UniformKnots? uniform;

    public SharedActivationOptions Options { get; }
    /// <summary>Forces an evaluation path (tests and benchmarks); Auto is right for everything else.</summary>
    public KanPath Path { get; set; } = KanPath.Auto;
    public int BasisCount => Options.GridSize + Options.SplineOrder;

    public SharedActivation(SharedActivationOptions? options = null) : base(nameof(SharedActivation))
    {
        Options = options ?? SharedActivationOptions.Default;
        if (Options.GridSize < 1 || Options.SplineOrder < 0 || !(Options.GridMax > Options.GridMin))
            throw new ArgumentException("shared activation: grid size must be >= 1, spline order >= 0 and grid max > grid min");
        coef = new Parameter(zeros(BasisCount));
        if (Options.LearnBaseScale) base_scale = new Parameter(ones(1));
        if (Options.LearnSplineScale) spline_scale = new Parameter(ones(1));
        RegisterComponents();
        if (Options.SplineOrder == 3)
            using (var knots = Knots(CPU)) uniform = BSplineBasis.TryUniform(knots, 3);
        ResetParameters();
    }

    public Parameter Coefficients => coef;
    public Parameter? BaseScale => base_scale;
    public Parameter? SplineScale => spline_scale;

    /// <summary>w_b = w_s = 1; c per <see cref="SharedActivationOptions.CoefficientInit"/> (docs/allukan.md §R.3, initialisation).</summary>
    public void ResetParameters()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        base_scale?.fill_(1.0);
        spline_scale?.fill_(1.0);
        int g = Options.GridSize, k = Options.SplineOrder;
        if (Options.CoefficientInit == CoefficientInit.Noise)
        {
            coef.copy_((rand(BasisCount) - 0.5) * (Options.ScaleNoise / g));
            return;
        }
        // curve2coeff for one function: the G+1 knots inside [lo, hi], noise values there, minimum-norm least squares
        // (G+1 equations, G+k unknowns; torch.linalg.lstsq's default CPU driver gelsy gives the minimum-norm solution).
        var points = Knots(CPU).narrow(0, k, g + 1);
        var noise = (rand(g + 1, 1) - 0.5) * (Options.ScaleNoise / g);
        var (solution, _, _, _) = linalg.lstsq(BSplineBasis.CoxDeBoor(points, Knots(CPU), k), noise);
        coef.copy_(solution.squeeze(-1));
    }

    /// <summary>The knot row t_0..t_{G+2k} on a device (built from the options, as efficient-kan builds its grid).</summary>
    public Tensor Knots(Device device)
    {
        using var scope = NewDisposeScope();
        return BSplineBasis.MakeKnots(Options.GridSize, Options.SplineOrder, Options.GridMin, Options.GridMax)
            .to(device).MoveToOuterDisposeScope();
    }

    /// <summary>True when the closed-form cubic basis is used.</summary>
    public bool UsesFastPath => Path.UsesFast(uniform is not null);

    /// <summary>B_j(u) for every element: (...) → (..., K). Differentiable when u requires grad.</summary>
    public Tensor Basis(Tensor u) => OnPath(u, BSplineBasis.UniformCubic, BSplineBasis.CoxDeBoor);

    /// <summary>dB_j/du: (...) → (..., K), analytic (used by the recompute backward and by the tests).</summary>
    public Tensor BasisDerivative(Tensor u) => OnPath(u, BSplineBasis.UniformCubicDerivative, BSplineBasis.CoxDeBoorDerivative);

    Tensor OnPath(Tensor u, Func<Tensor, BSplineBasis.UniformKnots, Tensor> fast, Func<Tensor, Tensor, int, Tensor> general)
    {
        if (UsesFastPath) return fast(u, uniform!.Value);
        using var scope = NewDisposeScope();
        return general(u, Knots(u.device), Options.SplineOrder).MoveToOuterDisposeScope();
    }

    /// <summary>s'(u) = Σ_j c_j B'_j(u): the term Grad-Free drops from ∂ψ/∂u (before the w_s factor).</summary>
    public Tensor SplineDerivative(Tensor u)
    {
        using var scope = NewDisposeScope();
        return matmul(BasisDerivative(u), coef).MoveToOuterDisposeScope();
    }

    public Tensor ActivateBase(Tensor u) => BaseActivations.Apply(Options.BaseActivation, u);

    /// <summary>Per element, the base term and the K basis weights: (1 + K), KANLinear's per-edge convention.</summary>
    public long CountMacs(Tensor input, Tensor output) => input.numel() * (1L + BasisCount);

    public override Tensor forward(Tensor u)
    {
        using var scope = NewDisposeScope();
        // ψ is evaluated in its parameters' precision (fp32 under bf16 autocast: the basis needs it, and the fused
        // kernels take fp32); the layer that follows casts again.
        if (u.dtype != coef.dtype && u.is_floating_point()) u = u.to(coef.dtype);
        var fused = FusedKernelsFor(u);
        Tensor psi;
        if (fused is not null && !(is_grad_enabled() && RequiresGrad(u)))
            // Nothing to differentiate (inference, or frozen parameters and input): one kernel, no basis tensor.
            psi = fused.PsiForward(TensorLayout.DenseLayout(u), coef, base_scale, spline_scale, uniform!.Value);
        else switch (Options.Gradient)
            {
                case SplineGradient.Exact:
                    psi = Combine(u, matmul(Basis(u), coef));
                    break;
                case SplineGradient.GradFreeRecompute or SplineGradient.ExactRecompute when is_grad_enabled():
                    psi = OutputTemplates.Drop(RecomputeFunction.apply(u, coef, base_scale, spline_scale, this, Options.Gradient == SplineGradient.ExactRecompute));
                    break;
                case SplineGradient.GradFree when fused is not null:
                    // The same gradients as below, from the fused kernels: only u is kept for backward.
                    psi = OutputTemplates.Drop(RecomputeFunction.apply(u, coef, base_scale, spline_scale, this, false));
                    break;
                default:
                    // Grad-Free (docs/allukan.md §R.5): the basis is a constant of the graph. Kept for backward: the basis (K floats
                    // per element, for ∂/∂c) and b(u), Σ c B (for ∂/∂w_b, ∂/∂w_s); none of the basis evaluation's intermediates.
                    Tensor bas;
                    using (no_grad()) bas = Basis(u.detach());
                    psi = Combine(u, matmul(bas, coef));
                    break;
            }
        return psi.MoveToOuterDisposeScope();
    }

    bool RequiresGrad(Tensor u) => u.requires_grad || coef.requires_grad || (base_scale?.requires_grad ?? false) || (spline_scale?.requires_grad ?? false);

    /// <summary>
    /// The fused CUDA kernels of ψ (<see cref="IPsiKernels.PsiForward"/>) when they apply to u: a float32
    /// CUDA tensor, the closed-form cubic basis, SiLU base, at most 16 bases, and fused kernels allowed
    /// (<see cref="KanFeatures.UseFusedKernels"/>, the bench's --no-fused). Otherwise null: the torch formulation.
    /// </summary>
    public IPsiKernels? FusedKernelsFor(Tensor u) =>
        KanFeatures.UseFusedKernels && u.device_type == DeviceType.CUDA && u.dtype == ScalarType.Float32 && UsesFastPath
        && Options.BaseActivation == BaseActivation.SiLU
        && KanFeatures.PsiKernels(u.device_index < 0 ? 0 : u.device_index) is { } kernels && BasisCount <= kernels.MaxPsiBases ? kernels : null;

    /// <summary>w_b·b(u) + w_s·spline, with a fixed scale of 1 where the option turns the parameter off.</summary>
    Tensor Combine(Tensor u, Tensor spline)
    {
        var (b, s) = Scaled(u, spline);
        return b + s;
    }

    /// <summary>The two terms of ψ, w_b·b(u) and w_s·spline, before they are added.</summary>
    (Tensor Base, Tensor Spline) Scaled(Tensor u, Tensor spline)
    {
        var b = ActivateBase(u);
        if (base_scale is not null) b = b * base_scale;
        if (spline_scale is not null) spline = spline * spline_scale;
        return (b, spline);
    }

    /// <summary>
    /// ψ(u) as its two terms, w_b·b(u) and w_s·Σ_j c_j B_j(u) (plots and analysis; no autograd specialities):
    /// their sum is what forward returns.
    /// </summary>
    public (Tensor Base, Tensor Spline) Terms(Tensor u)
    {
        using var scope = NewDisposeScope();
        var (b, s) = Scaled(u, matmul(Basis(u), coef));
        return (b.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// ψ as one autograd node that saves only u (and references to the parameters) and recomputes the basis in
    /// backward (docs/allukan.md §R.5, memory-lean variant). Arguments: u, c, w_b or null, w_s or null, the module, exact.
    /// </summary>
    /// <remarks>
    /// TorchSharp (0.107) calls backward from the autograd engine (on a worker thread for CUDA) where no dispose scope
    /// of ours is open; the returned gradients are kept alive and then disposed by <see cref="HandedBackGradients"/>.
    /// </remarks>
    sealed class RecomputeFunction : autograd.SingleTensorFunction<RecomputeFunction>
    {
        public override string Name => "SharedActivationRecompute";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            HandedBackGradients.Release();
            var u = (Tensor)vars[0];
            var psi = (SharedActivation)vars[4];
            ctx.save_for_backward([u, (Tensor)vars[1], (vars[2] as Tensor)!, (vars[3] as Tensor)!]);
            ctx.save_data("module", psi);
            ctx.save_data("exact", vars[5]);
            ctx.save_data("input_grad", u.requires_grad);
            // An undefined incoming gradient is answered with no gradients rather than a materialised zero tensor.
            OutputTemplates.Forward(ctx);
            if (psi.FusedKernelsFor(u) is { } fused)
                return fused.PsiForward(TensorLayout.DenseLayout(u), psi.coef, psi.base_scale, psi.spline_scale, psi.uniform!.Value);
            return psi.Combine(u, matmul(psi.Basis(u), psi.coef));
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor g)
        {
            using var incoming = HandedBackGradients.Backward(g);
            if (g is null || g.IsInvalid) return [null!, null!, null!, null!, null!, null!];
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var saved = ctx.get_saved_variables();
            var (u, c, wb, ws) = (saved[0], saved[1], saved[2], saved[3]);
            var psi = (SharedActivation)ctx.get_data("module");
            bool exact = (bool)ctx.get_data("exact");

            bool inputGrad = (bool)ctx.get_data("input_grad");
            Tensor? gradU;
            Tensor gradC;
            Tensor? gradWb, gradWs;
            if (psi.FusedKernelsFor(u) is { } fused)
            {
                var ud = TensorLayout.DenseLayout(u);
                (gradU, var sums) = fused.PsiBackward(ud, TensorLayout.WithStrides(g, ud.stride()), c, wb, ws, psi.uniform!.Value, exact, inputGrad);
                int k = psi.BasisCount;
                gradC = sums.narrow(0, 0, k);
                gradWb = wb is null ? null : sums.narrow(0, k, 1);
                gradWs = ws is null ? null : sums.narrow(0, k + 1, 1);
            }
            else
            {
                var bas = psi.Basis(u);                                  // recomputed: this is the memory not kept
                var gSpline = ws is null ? g : g * ws;                   // ∂L/∂s, s = Σ c_j B_j(u)
                gradU = null;
                if (inputGrad)
                {
                    gradU = g * BaseActivations.Derivative(psi.Options.BaseActivation, u);
                    if (wb is not null) gradU = gradU * wb;
                    if (exact) gradU = gradU + gSpline * matmul(psi.BasisDerivative(u), c);
                }
                gradC = matmul(gSpline.reshape(-1), bas.reshape(-1, bas.shape[^1]));
                gradWb = wb is null ? null : (g * psi.ActivateBase(u)).sum().reshape(1);
                gradWs = ws is null ? null : (g * matmul(bas, c)).sum().reshape(1);
            }

            return HandedBackGradients.KeepAll([gradU!, gradC, gradWb!, gradWs!, null!, null!]);
        }
    }
}
