using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// B-spline bases on a knot vector: the one place in the project where spline math lives. KanLinear (per-input
/// knot rows) and the shared-activation spline of ALL U-KAN (one knot row) both call it.
/// </summary>
/// <remarks>
/// Knots t_0..t_{G+2k} for grid size G and order k give G+k bases of order k. Two evaluations:
/// <list type="bullet">
/// <item><see cref="CoxDeBoor"/>: the recursion of efficient-kan's <c>b_splines</c> (U-KAN <c>Seg_UKAN/kan.py</c>),
/// valid for any knots and order; order-0 intervals are right-open, so outside [t_0, t_{G+2k}) every basis is 0.</item>
/// <item><see cref="UniformCubic"/>: for equally spaced knots and k = 3, every basis is a shift of the cardinal cubic
/// B-spline, N(t) = (relu(2-|t-2|)^3 - 4 relu(1-|t-2|)^3) / 6 on t = (x - t_0)/h - j. A handful of element-wise
/// operations instead of the dozens the recursion needs; mathematically identical (the cubic is continuous, so the
/// half-open convention does not matter), numerically within ~1e-7.</item>
/// </list>
/// The grid argument is (in, knots) for per-feature knots or (knots) for one shared knot row; x broadcasts
/// against it with a trailing basis axis: x (..., in) → (..., in, G+k), or x (...) → (..., G+k).
/// </remarks>
public static class BSplineBasis
{
    /// <summary>Equally spaced knots: first knot and spacing, and the number of order-k bases they carry.</summary>
    public readonly record struct UniformKnots(double First, double Step, int BasisCount);

    /// <summary>
    /// The knot row efficient-kan builds: arange(-k, G+k+1)·h + lo with h = (hi-lo)/G (U-KAN: G=5, k=3 gives
    /// -2.2, -1.8, ..., 2.2), computed in float32 exactly as the reference does so that the buffers match bit for bit.
    /// </summary>
    public static Tensor MakeKnots(int gridSize, int order, double lo, double hi)
    {
        var h = (hi - lo) / gridSize;
        using var steps = arange(-order, gridSize + order + 1, dtype: ScalarType.Float32);
        return steps * h + lo;
    }

    /// <summary>Cox–de Boor recursion (general knots, any order); matches efficient-kan's b_splines.</summary>
    public static Tensor CoxDeBoor(Tensor x, Tensor grid, int order)
    {
        using var scope = NewDisposeScope();
        var g = grid.to(x.dtype);
        var xe = x.unsqueeze(-1);
        var lo = Knots(g, 0, -1);
        var hi = Knots(g, 1, null);
        var bases = xe.ge(lo).logical_and(xe.lt(hi)).to(x.dtype);
        for (int k = 1; k <= order; k++)
        {
            // (x - t_j)/(t_{j+k} - t_j) B_{j,k-1} + (t_{j+k+1} - x)/(t_{j+k+1} - t_{j+1}) B_{j+1,k-1}
            var left = (xe - Knots(g, 0, -(k + 1))) / (Knots(g, k, -1) - Knots(g, 0, -(k + 1))) * bases.narrow(-1, 0, bases.shape[^1] - 1);
            var right = (Knots(g, k + 1, null) - xe) / (Knots(g, k + 1, null) - Knots(g, 1, -k)) * bases.narrow(-1, 1, bases.shape[^1] - 1);
            bases = left + right;
        }
        return bases.MoveToOuterDisposeScope();
    }

    /// <summary>Closed-form cubic bases on equally spaced knots (see the class remarks).</summary>
    public static Tensor UniformCubic(Tensor x, UniformKnots knots)
    {
        using var scope = NewDisposeScope();
        // Out-of-place throughout: autograd differentiates through this when x requires grad.
        var s = CenteredOffsets(x, knots).abs();
        var a = (2 - s).relu().pow(3);
        var b = (1 - s).relu().pow(3);
        return ((a - 4 * b) / 6).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// d/dx of the closed-form cubic bases: sign(t-2)·(4 relu(1-s)^2 - relu(2-s)^2)/2 / h with s = |t-2|. Used by
    /// recompute-style backward passes and for the exact spline-derivative term that Grad-Free Spline drops.
    /// </summary>
    public static Tensor UniformCubicDerivative(Tensor x, UniformKnots knots)
    {
        using var scope = NewDisposeScope();
        var d = CenteredOffsets(x, knots);
        var s = d.abs();
        var a = (2 - s).relu_().pow_(2);
        var b = (1 - s).relu_().pow_(2);
        return b.mul_(4).sub_(a).mul_(d.sign()).div_(2 * knots.Step).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Derivative of the Cox–de Boor bases of order k for any knots:
    /// B'_{j,k} = k·[B_{j,k-1}/(t_{j+k}-t_j) - B_{j+1,k-1}/(t_{j+k+1}-t_{j+1})].
    /// </summary>
    public static Tensor CoxDeBoorDerivative(Tensor x, Tensor grid, int order)
    {
        if (order == 0) return zeros_like(CoxDeBoor(x, grid, 0));
        using var scope = NewDisposeScope();
        var g = grid.to(x.dtype);
        var lower = CoxDeBoor(x, grid, order - 1);          // (..., G+k+1) bases of order k-1
        var n = lower.shape[^1];
        var first = lower.narrow(-1, 0, n - 1) / (Knots(g, order, -1) - Knots(g, 0, -(order + 1)));
        var second = lower.narrow(-1, 1, n - 1) / (Knots(g, order + 1, null) - Knots(g, 1, -order));
        return ((first - second) * order).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The knots when every row is the same equally spaced sequence (within float32 rounding), else null.
    /// Grids built by <see cref="MakeKnots"/> are uniform; grids adapted by update_grid generally are not.
    /// </summary>
    public static UniformKnots? TryUniform(Tensor grid, int order)
    {
        using var scope = NewDisposeScope();
        var g = grid.detach().to(ScalarType.Float64).cpu();
        if (g.dim() == 1) g = g.unsqueeze(0);
        long count = g.shape[1];
        var first = g[.., 0].mean().item<double>();
        var last = g[.., count - 1].mean().item<double>();
        var step = (last - first) / (count - 1);
        if (!(step > 0)) return null;
        var ideal = arange(count, dtype: ScalarType.Float64) * step + first;
        var error = (g - ideal).abs().max().item<double>();
        // float32 knots carry ~1e-7 relative rounding; anything larger means the grid was adapted.
        if (error > 1e-5 * Math.Max(1.0, Math.Max(Math.Abs(first), Math.Abs(last)))) return null;
        return new UniformKnots(first, step, (int)(count - 1 - order));
    }

    // (x - t_0)/h - j - 2 for every basis j: the offset from the centre of each cubic's support [j, j+4).
    static Tensor CenteredOffsets(Tensor x, UniformKnots knots)
    {
        var centres = arange(knots.BasisCount, dtype: x.dtype, device: x.device).add_(2);
        return ((x - knots.First) / knots.Step).unsqueeze(-1) - centres;
    }

    // grid[..., start:end] along the knot axis, kept broadcastable against x.unsqueeze(-1).
    static Tensor Knots(Tensor grid, long start, long? end)
    {
        long n = grid.shape[^1];
        long stop = end is long e ? (e < 0 ? n + e : e) : n;
        return grid.narrow(-1, start, stop - start);
    }
}
