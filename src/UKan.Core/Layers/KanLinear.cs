using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>Which evaluation KanLinear uses; Auto picks the fast one whenever it is exact.</summary>
public enum KanPath { Auto, General, Fast }

public static class KanPaths
{
    /// <summary>Whether a layer takes the closed-form path: Auto takes it whenever it is exact (<paramref name="available"/>).</summary>
    public static bool UsesFast(this KanPath path, bool available) => path switch
    {
        KanPath.General => false,
        KanPath.Fast => available ? true : throw new InvalidOperationException("the fast path needs uniform knots and spline order 3"),
        _ => available,
    };
}

/// <summary>Constructor options of the official KANLinear, with its defaults (efficient-kan, U-KAN kan.py).</summary>
public sealed record KanLinearOptions
{
    public int GridSize { get; init; } = 5;
    public int SplineOrder { get; init; } = 3;
    public double ScaleNoise { get; init; } = 0.1;
    public double ScaleBase { get; init; } = 1.0;
    public double ScaleSpline { get; init; } = 1.0;
    public bool StandaloneSplineScaler { get; init; } = true;
    public BaseActivation BaseActivation { get; init; } = BaseActivation.SiLU;
    public double GridEps { get; init; } = 0.02;
    public double GridMin { get; init; } = -1.0;
    public double GridMax { get; init; } = 1.0;

    public static KanLinearOptions Default { get; } = new();
}

/// <summary>
/// KANLinear: y = W_b·b(x) + Σ_j W_s,j·B_j(x), a linear map whose every edge carries a learnable univariate
/// function (SiLU base plus a B-spline). Liu et al., "KAN" (2024); the efficient formulation of
/// Blealtan/efficient-kan, which U-KAN copies as <c>Seg_UKAN/kan.py</c> (CUHK-AIM-Group/U-KAN @ b20bf63).
/// </summary>
/// <remarks>
/// State-dict names are the official ones: <c>base_weight</c> (out, in), <c>spline_weight</c> (out, in, G+k),
/// <c>spline_scaler</c> (out, in) and the buffer <c>grid</c> (in, G+2k+1).
/// Departures from the official layer, none of which changes a result beyond float rounding:
/// <list type="bullet">
/// <item>Fast path (used automatically when the knots are uniform and k = 3, which U-KAN training always has, as it
/// never calls update_grid): closed-form cubic bases and ONE matrix product over the interleaved features
/// [b(x_i), B_0(x_i) .. B_7(x_i)] per input instead of two products; agrees with the recursion to ~1e-7.</item>
/// <item>Inputs of any leading shape are flattened to rows, as the official forward does.</item>
/// </list>
/// </remarks>
public sealed class KanLinear : nn.Module<Tensor, Tensor>, IMacCounter
{
    private readonly Parameter base_weight;
    private readonly Parameter spline_weight;
    private readonly Parameter? spline_scaler;
    private readonly Tensor grid;

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public KanLinearOptions Options { get; }
    /// <summary>Forces an evaluation path (tests and benchmarks); Auto is right for everything else.</summary>
    public KanPath Path { get; set; } = KanPath.Auto;

    BSplineBasis.UniformKnots? uniform;   // cached: recomputed when the grid buffer changes through this class

    public KanLinear(int inFeatures, int outFeatures, KanLinearOptions? options = null, bool initialize = true)
        : base(nameof(KanLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Options = options ?? KanLinearOptions.Default;
        int k = Options.SplineOrder, g = Options.GridSize;
        if (g < 1 || k < 0) throw new ArgumentException("grid size must be >= 1 and spline order >= 0");

        using (var knots = BSplineBasis.MakeKnots(g, k, Options.GridMin, Options.GridMax))
            grid = knots.expand(inFeatures, -1).contiguous();
        base_weight = new Parameter(empty(outFeatures, inFeatures));
        spline_weight = new Parameter(empty(outFeatures, inFeatures, g + k));
        if (Options.StandaloneSplineScaler) spline_scaler = new Parameter(empty(outFeatures, inFeatures));
        RegisterComponents();
        if (initialize) ResetParameters();
        else using (no_grad()) { base_weight.zero_(); spline_weight.zero_(); spline_scaler?.zero_(); }
        RefreshGridCache();
    }

    public Parameter BaseWeight => base_weight;
    public Parameter SplineWeight => spline_weight;
    public Parameter? SplineScaler => spline_scaler;
    public Tensor Grid => grid;
    public int BasisCount => Options.GridSize + Options.SplineOrder;

    /// <summary>
    /// The official initialisation: base weights kaiming-uniform (a = √5·scale_base); spline weights = the
    /// least-squares spline through small uniform noise at the G+1 grid points (curve2coeff); scaler
    /// kaiming-uniform (a = √5·scale_spline).
    /// </summary>
    public void ResetParameters()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        nn.init.kaiming_uniform_(base_weight, a: Math.Sqrt(5) * Options.ScaleBase);
        int g = Options.GridSize, k = Options.SplineOrder;
        var noise = (rand(g + 1, InFeatures, OutFeatures, device: grid.device) - 0.5) * Options.ScaleNoise / g;
        var points = grid.T.narrow(0, k, g + 1);                     // grid.T[k:-k]: the knots inside [lo, hi]
        var fitted = CurveToCoefficients(points, noise);
        spline_weight.copy_(fitted * (Options.StandaloneSplineScaler ? 1.0 : Options.ScaleSpline));
        if (spline_scaler is not null) nn.init.kaiming_uniform_(spline_scaler, a: Math.Sqrt(5) * Options.ScaleSpline);
    }

    /// <summary>B-spline bases of x (rows, in) on this layer's knots: (rows, in, G+k), by the general recursion.</summary>
    public Tensor BSplines(Tensor x) => BSplineBasis.CoxDeBoor(x, grid, Options.SplineOrder);

    /// <summary>spline_weight · spline_scaler (the coefficients actually applied).</summary>
    public Tensor ScaledSplineWeight() =>
        spline_scaler is null ? spline_weight.alias() : spline_weight * spline_scaler.unsqueeze(-1);

    /// <summary>Overrides every layer's <see cref="Path"/> when set (benchmarks, diagnostics).</summary>
    public static KanPath? GlobalPath { get; set; }

    /// <summary>True when this call would take the fast path.</summary>
    public bool UsesFastPath => (GlobalPath ?? Path).UsesFast(uniform is not null);

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var shape = input.shape;
        var x = input.reshape(-1, InFeatures);
        Tensor y;
        if (UsesFastPath)
        {
            // Features per input i: [b(x_i), B_0(x_i), ..., B_{K-1}(x_i)], weights laid out the same way, so the
            // whole layer is one (rows, 9·in) × (9·in, out) product; backward recomputes the features from x.
            y = Options.BaseActivation == BaseActivation.SiLU
                ? OutputTemplates.Drop(KanLinearFunction.apply(x.contiguous(), FusedWeight(), uniform!.Value))
                : F.linear(Features(x).view(x.shape[0], -1), FusedWeight());
        }
        else
        {
            var spline = BSplines(x).view(x.shape[0], -1);
            y = F.linear(Activate(x), base_weight) + F.linear(spline, ScaledSplineWeight().view(OutFeatures, -1));
        }
        var outShape = shape.ToArray();
        outShape[^1] = OutFeatures;
        return y.reshape(outShape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Per-input features [b(x_i), B_0(x_i), ..., B_{K-1}(x_i)]: (rows, in) → (rows, in, 1+K), by the same path as
    /// forward; contracted with <see cref="FusedWeight"/> they give the layer's output (KanConv2d's groups use this).
    /// </summary>
    public Tensor Features(Tensor x) =>
        cat([Activate(x).unsqueeze(-1), UsesFastPath ? BSplineBasis.UniformCubic(x, uniform!.Value) : BSplines(x)], -1);

    /// <summary>
    /// [W_b, W_s·scaler] interleaved per input: (out, in·(1+K)), matching <see cref="Features"/>; inside a
    /// <see cref="KanWeightBatch"/> the one it assembled with the model's other layers.
    /// </summary>
    public Tensor FusedWeight() => assembled?.alias() ?? KanWeight.Fuse(base_weight, spline_weight, spline_scaler);

    /// <summary>The parameters <see cref="FusedWeight"/> is made of.</summary>
    public KanWeightParts WeightParts => new(base_weight, spline_weight, spline_scaler);

    Tensor? assembled;

    /// <summary>Set (and cleared) by <see cref="KanWeightBatch"/>: the weight <see cref="FusedWeight"/> returns meanwhile.</summary>
    internal void UseAssembledWeight(Tensor? weight) => assembled = weight;

    public Tensor Activate(Tensor x) => BaseActivations.Apply(Options.BaseActivation, x);

    /// <summary>
    /// The learned univariate function of every edge (input i → output j), as its two terms, for inputs x (rows, in):
    /// base[r, i, j] = W_b[j, i]·b(x_ri) and spline[r, i, j] = Σ_k W_s[j, i, k]·scaler[j, i]·B_k(x_ri), so that
    /// φ_ij = base + spline and the layer's output is y_rj = Σ_i φ_ij(x_ri). Built from <see cref="Features"/> and
    /// <see cref="FusedWeight"/>, the very terms forward contracts, so the plotted functions cannot drift from the
    /// layer. Returns rows·in·out floats per term: chunk large inputs.
    /// </summary>
    public (Tensor Base, Tensor Spline) EdgeTerms(Tensor x)
    {
        using var scope = NewDisposeScope();
        var features = Features(x.reshape(-1, InFeatures));                  // (rows, in, 1+K)
        var weight = FusedWeight().view(OutFeatures, InFeatures, -1);        // (out, in, 1+K)
        var b = features.select(-1, 0).unsqueeze(-1) * weight.select(-1, 0).T.unsqueeze(0);
        var s = einsum("rik,oik->rio", features.narrow(-1, 1, BasisCount), weight.narrow(-1, 1, BasisCount));
        return (b.MoveToOuterDisposeScope(), s.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// curve2coeff: per input feature, the least-squares spline coefficients that reproduce y at the points x.
    /// x (batch, in), y (batch, in, out) → (out, in, G+k). torch.linalg.lstsq's default CPU driver (gelsy) returns
    /// the minimum-norm solution when the system is under-determined, as it is at initialisation (G+1 points, G+k
    /// unknowns), so the result matches the reference's. Solved in float64: float32 LAPACK results varied in the last
    /// bit between identical calls here, which made two runs with one seed start from different weights.
    /// </summary>
    public Tensor CurveToCoefficients(Tensor x, Tensor y)
    {
        using var scope = NewDisposeScope();
        var device = x.device;
        var dtype = y.dtype;
        var a = BSplines(x.to(float64)).transpose(0, 1).cpu();   // (in, batch, K)
        var b = y.to(float64).transpose(0, 1).cpu();             // (in, batch, out)
        var (solution, _, _, _) = linalg.lstsq(a, b);            // (in, K, out)
        return solution.permute(2, 0, 1).contiguous().to(dtype).to(device).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// update_grid: re-places the knots on the distribution of x (a blend of sample quantiles and a uniform grid,
    /// weight grid_eps on the uniform one), extends them by k steps on each side, and refits the spline weights so
    /// that the layer computes (nearly) the same function on x as before.
    /// </summary>
    public void UpdateGrid(Tensor x, double margin = 0.01)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long batch = x.shape[0];
        int g = Options.GridSize, k = Options.SplineOrder;

        var splines = BSplines(x).permute(1, 0, 2);                            // (in, batch, K)
        var coefficients = ScaledSplineWeight().permute(1, 2, 0);              // (in, K, out)
        var outputs = bmm(splines, coefficients).permute(1, 0, 2);             // (batch, in, out)

        var sorted = x.sort(0).Values;
        // The same int64 linspace as the reference, so the same sample indices are taken.
        var index = linspace(0, batch - 1, g + 1, dtype: ScalarType.Int64, device: x.device);
        var adaptive = sorted.index_select(0, index);
        var step = (sorted[-1] - sorted[0] + 2 * margin) / g;
        var uniformGrid = arange(g + 1, dtype: ScalarType.Float32, device: x.device).unsqueeze(1) * step + sorted[0] - margin;
        var blended = Options.GridEps * uniformGrid + (1 - Options.GridEps) * adaptive;
        var below = blended.narrow(0, 0, 1) - step * arange(k, 0, -1, device: x.device).unsqueeze(1);
        var above = blended.narrow(0, g, 1) + step * arange(1, k + 1, device: x.device).unsqueeze(1);
        var newGrid = cat([below, blended, above], 0);

        grid.copy_(newGrid.T);
        spline_weight.copy_(CurveToCoefficients(x, outputs));
        RefreshGridCache();
    }

    /// <summary>
    /// The official regularisation: L1 of each edge's mean |spline weight| plus the entropy of their distribution,
    /// regularize_activation · Σ l1 + regularize_entropy · (−Σ p log p), p = l1 / Σ l1.
    /// </summary>
    public Tensor RegularizationLoss(double regularizeActivation = 1.0, double regularizeEntropy = 1.0)
    {
        using var scope = NewDisposeScope();
        var l1 = spline_weight.abs().mean([-1L]);
        var activation = l1.sum();
        var p = l1 / activation;
        var entropy = -(p * p.log()).sum();
        return (regularizeActivation * activation + regularizeEntropy * entropy).MoveToOuterDisposeScope();
    }

    /// <summary>Re-reads the grid buffer (call after loading a state dict, which may bring adapted knots).</summary>
    public void RefreshGridCache() =>
        uniform = Options.SplineOrder == 3 ? BSplineBasis.TryUniform(grid, 3) : null;

    /// <summary>The matrix products: rows · out · in · (1 + G + k) (base branch plus every basis); the basis itself is not counted.</summary>
    public long CountMacs(Tensor input, Tensor output) => output.numel() * InFeatures * (1L + BasisCount);

    /// <summary>Refreshes the cached knot check of every KanLinear in a model (after loading weights).</summary>
    public static void RefreshGridCaches(nn.Module model)
    {
        foreach (var m in model.modules()) if (m is KanLinear kan) kan.RefreshGridCache();
    }
}
