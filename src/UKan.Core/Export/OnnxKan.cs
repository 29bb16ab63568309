using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Export;

/// <summary>
/// Emitters for the KAN layers in standard ONNX operators: <see cref="KanLinear"/> (U-KAN's KANLinear), ALL U-KAN's
/// shared activation ψ (<see cref="Layers.SharedActivation"/>) and its KA layer (<see cref="KaLinear"/>); the KAonv layer is a
/// convolution on ψ (<see cref="OnnxLayers.Conv"/>). The B-spline basis follows <see cref="BSplineBasis"/>: the
/// closed-form uniform cubic where it applies (equally spaced knots, order 3 — every U-KAN layer, as the official code
/// never adapts its grid), the Cox–de Boor recursion otherwise.
/// </summary>
public static class OnnxKan
{
    /// <summary>
    /// KANLinear on the last axis of a value of rank <paramref name="rank"/>: y = b(x)·W_bᵀ + B(x)·(W_s·scaler)ᵀ, written as
    /// one MatMul over the per-input features [b(x_i), B_0(x_i) … B_{K−1}(x_i)] against <see cref="KanLinear.FusedWeight"/>,
    /// the same product the layer's fast path computes.
    /// </summary>
    public static string KanLinear(OnnxGraphBuilder g, KanLinear layer, string x, int rank, string name)
    {
        var knots = layer.Options.SplineOrder == 3 ? BSplineBasis.TryUniform(layer.Grid, 3) : null;
        var basis = knots is { } u ? UniformCubic(g, x, u) : CoxDeBoor(g, x, layer.Grid, layer.Options.SplineOrder);   // (..., in, K)
        var features = g.Op("Concat", [g.Unsqueeze(OnnxLayers.Activation(g, layer.Options.BaseActivation, x), -1), basis],
            OnnxWire.Attribute.Int("axis", -1));                                                                    // (..., in, 1+K)
        // Reshape (..., in, 1+K) → (..., in·(1+K)): 0 keeps a leading axis as it is (batch and token axes stay dynamic).
        var flat = g.Reshape(features, [.. Enumerable.Repeat(0L, rank - 1), -1]);
        using var scope = NewDisposeScope();
        return g.MatMul(flat, g.Weight(name + ".fused_weight_t", layer.FusedWeight().t()));
    }

    /// <summary>
    /// ψ(u) = w_b·b(u) + w_s·Σ_j c_j B_j(u), element-wise on a value of any shape (w_s is folded into c).
    /// </summary>
    public static string SharedActivation(OnnxGraphBuilder g, SharedActivation psi, string u)
    {
        using var scope = NewDisposeScope();
        var options = psi.Options;
        var knotRow = psi.Knots(CPU);
        var knots = options.SplineOrder == 3 ? BSplineBasis.TryUniform(knotRow, 3) : null;
        var basis = knots is { } k ? UniformCubic(g, u, k) : CoxDeBoor(g, u, knotRow, options.SplineOrder);          // (..., K)
        var coef = psi.SplineScale is { } ws ? psi.Coefficients * ws : psi.Coefficients;
        var spline = g.Op("ReduceSum", [g.Mul(basis, g.Weight("psi.coef", coef)), g.Ints(-1)], OnnxWire.Attribute.Int("keepdims", 0));
        var b = OnnxLayers.Activation(g, options.BaseActivation, u);
        if (psi.BaseScale is { } wb) b = g.Mul(b, g.Weight("psi.base_scale", wb));
        return g.Add(b, spline);
    }

    /// <summary>
    /// KA layer: Y = ψ(X)·Λᵀ + b; with Sprecher's shift, y_q = Σ_p λ_qp ψ(x_p + η_q) + b_q (ψ on (..., out, in) edges).
    /// </summary>
    public static string KaLinear(OnnxGraphBuilder g, KaLinear layer, string x, string name)
    {
        string y;
        if (layer.Shift is null) y = g.MatMul(SharedActivation(g, layer.Activation, x), g.Weight(name + ".weight_t", layer.Weight.t()));
        else
        {
            using var scope = NewDisposeScope();
            var shifted = g.Add(g.Unsqueeze(x, -2), g.Weight(name + ".shift", layer.Shift.unsqueeze(-1)));   // (..., out, in)
            var edges = g.Mul(SharedActivation(g, layer.Activation, shifted), g.Weight(name + ".weight", layer.Weight));
            y = g.Op("ReduceSum", [edges, g.Ints(-1)], OnnxWire.Attribute.Int("keepdims", 0));
        }
        return layer.Bias is null ? y : g.Add(y, g.Weight(name + ".bias", layer.Bias));
    }

    /// <summary>
    /// Closed-form cubic bases on equally spaced knots (<see cref="BSplineBasis.UniformCubic"/>): with
    /// d = (x − t_0)/h − j − 2 and s = |d|, B_j(x) = (relu(2 − s)³ − 4·relu(1 − s)³)/6. x (...) → (..., K).
    /// </summary>
    public static string UniformCubic(OnnxGraphBuilder g, string x, BSplineBasis.UniformKnots knots)
    {
        var t = g.Div(g.Sub(x, g.Scalar((float)knots.First)), g.Scalar((float)knots.Step));
        var centres = Enumerable.Range(0, knots.BasisCount).Select(j => j + 2f).ToArray();
        var s = g.Op("Abs", [g.Sub(g.Unsqueeze(t, -1), g.Floats([knots.BasisCount], centres))]);
        string Cube(string v) => g.Mul(g.Mul(v, v), v);
        var a = Cube(g.Relu(g.Sub(g.Scalar(2f), s)));
        var b = Cube(g.Relu(g.Sub(g.Scalar(1f), s)));
        return g.Div(g.Sub(a, g.Mul(g.Scalar(4f), b)), g.Scalar(6f));
    }

    /// <summary>
    /// The Cox–de Boor recursion of <see cref="BSplineBasis.CoxDeBoor"/> for any knots and order, with the knot
    /// differences computed here as constants: B_{j,0} = 1[t_j ≤ x &lt; t_{j+1}] and
    /// B_{j,k} = (x − t_j)/(t_{j+k} − t_j)·B_{j,k−1} + (t_{j+k+1} − x)/(t_{j+k+1} − t_{j+1})·B_{j+1,k−1}.
    /// The grid is (in, knots) for per-input knots (x (..., in)) or (knots) for one row (x of any shape).
    /// </summary>
    public static string CoxDeBoor(OnnxGraphBuilder g, string x, Tensor grid, int order)
    {
        using var scope = NewDisposeScope();
        var knots = grid.detach().to(float32).cpu();
        long n = knots.shape[^1];
        Tensor Knots(long start, long stop) => knots.narrow(-1, start, stop - start);
        string Const(Tensor t) => g.Weight("knots", t);

        var xe = g.Unsqueeze(x, -1);
        var inside = g.Op("And", [g.Op("GreaterOrEqual", [xe, Const(Knots(0, n - 1))]), g.Op("Less", [xe, Const(Knots(1, n))])]);
        var bases = g.Op("Cast", [inside], OnnxWire.Attribute.Int("to", OnnxWire.Float));
        long count = n - 1;
        for (int k = 1; k <= order; k++)
        {
            var leftKnot = Knots(0, n - (k + 1));
            var left = g.Mul(g.Div(g.Sub(xe, Const(leftKnot)), Const(Knots(k, n - 1) - leftKnot)), g.Slice(bases, 0, count - 1, -1));
            var rightKnot = Knots(k + 1, n);
            var right = g.Mul(g.Div(g.Sub(Const(rightKnot), xe), Const(rightKnot - Knots(1, n - k))), g.Slice(bases, 1, count, -1));
            bases = g.Add(left, right);
            count--;
        }
        return bases;
    }
}
