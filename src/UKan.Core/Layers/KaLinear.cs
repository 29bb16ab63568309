using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>Sprecher's inner shift η_q (docs/allukan.md §R.7), for the KA (FC) layer only.</summary>
public enum ShiftMode
{
    /// <summary>No shift (the default: ψ is evaluated once per input element).</summary>
    None,
    /// <summary>η_q is a parameter, starting at η·q. Under Grad-Free it learns only through the base branch.</summary>
    Learnable,
    /// <summary>η_q = η·q, a constant buffer, as in Sprecher's theorem.</summary>
    Fixed,
}

/// <summary>Options of the Sprecher shift variant y_q = Σ_p λ_qp ψ(x_p + η_q) + b_q.</summary>
public sealed record SprecherShiftOptions
{
    public ShiftMode Mode { get; init; } = ShiftMode.None;
    /// <summary>
    /// η in η_q = η·q (q = 0 … out−1). Null [inferred]: (GridMax − GridMin)/out, so that the shifts of one layer span one
    /// grid range and stay where the spline is non-zero.
    /// </summary>
    public double? Step { get; init; }

    public static SprecherShiftOptions None { get; } = new();
}

/// <summary>
/// KA layer, the FC replacement of ALL U-KAN (arXiv 2602.03156; docs/allukan.md §R.3): Y = ψ(X)·Λᵀ + b, one shared
/// activation ψ per layer applied element-wise, one scalar λ per edge. Parameters: those of the nn.Linear it replaces
/// (<c>weight</c> = Λ, <c>bias</c>) plus ψ's (<c>act.coef</c>, <c>act.base_scale</c>, <c>act.spline_scale</c>), and
/// <c>shift</c> (out) with the Sprecher variant.
/// </summary>
/// <remarks>
/// Λ and b start as nn.Linear's defaults (kaiming-uniform a = √5, bias U(±1/√in)) [inferred, docs/allukan.md §R.3]. The
/// Sprecher variant (docs/allukan.md §R.7) evaluates ψ on rows·out·in shifted values, out times the memory of the default.
/// </remarks>
public sealed class KaLinear : nn.Module<Tensor, Tensor>, IMacCounter
{
    private readonly Parameter weight;
    private readonly Parameter? bias;
    private readonly SharedActivation act;
    private readonly Tensor? shift;

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public ShiftMode ShiftMode { get; }

    /// <param name="activation">Options of this layer's own ψ (ignored when <paramref name="sharedActivation"/> is given).</param>
    /// <param name="sharedActivation">A ψ shared with other layers (docs/allukan.md §R.10) instead of an own one.</param>
    public KaLinear(int inFeatures, int outFeatures, bool hasBias = true, SharedActivationOptions? activation = null,
        SprecherShiftOptions? shift = null, SharedActivation? sharedActivation = null) : base(nameof(KaLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        act = sharedActivation ?? new SharedActivation(activation);
        weight = new Parameter(empty(outFeatures, inFeatures));
        if (hasBias) bias = new Parameter(empty(outFeatures));
        RegisterComponents();
        LayerInit.LikeTorch(weight, bias);

        shift ??= SprecherShiftOptions.None;
        ShiftMode = shift.Mode;
        if (ShiftMode != ShiftMode.None)
        {
            var options = act.Options;
            double step = shift.Step ?? (options.GridMax - options.GridMin) / outFeatures;
            Tensor eta;
            using (var q = arange(outFeatures, dtype: ScalarType.Float32)) eta = q.mul(step).DetachFromDisposeScope();
            // Registered by hand so that the name is "shift" whether it is learnt or fixed.
            if (ShiftMode == ShiftMode.Learnable)
            {
                var p = new Parameter(eta);
                register_parameter("shift", p);
                this.shift = p;
            }
            else
            {
                register_buffer("shift", eta);
                this.shift = eta;
            }
        }
    }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;
    public SharedActivation Activation => act;
    /// <summary>η_q (out), or null without the Sprecher shift.</summary>
    public Tensor? Shift => shift;

    /// <summary>The weighted sum over edges (rows × out × in); ψ counts its own (it is a child module).</summary>
    public long CountMacs(Tensor input, Tensor output) => output.numel() * InFeatures;

    /// <summary>
    /// The function of every edge (input p → output q) as its two terms, for inputs x (rows, in): λ_qp·w_b·b(x_p + η_q)
    /// and λ_qp·w_s·s(x_p + η_q), each (rows, in, out), from ψ's own <see cref="SharedActivation.Terms"/>; summed over
    /// p and added to the bias they give forward's output.
    /// </summary>
    public (Tensor Base, Tensor Spline) EdgeTerms(Tensor x)
    {
        using var scope = NewDisposeScope();
        var rows = x.reshape(-1, InFeatures).unsqueeze(-1);                   // (rows, in, 1)
        var (b, s) = act.Terms(shift is null ? rows : rows + shift);         // (rows, in, 1 or out)
        var lambda = weight.T.unsqueeze(0);                                  // (1, in, out)
        return ((b * lambda).MoveToOuterDisposeScope(), (s * lambda).MoveToOuterDisposeScope());
    }

    public override Tensor forward(Tensor x)
    {
        if (shift is null) return F.linear(act.call(x), weight, bias);
        using var scope = NewDisposeScope();
        // (..., 1, in) + (out, 1) → (..., out, in): ψ(x_p + η_q) for every edge, weighted by λ_qp and summed over p.
        var edges = act.call(x.unsqueeze(-2) + shift.unsqueeze(-1));
        var y = (edges * weight).sum(-1);
        if (bias is not null) y = y + bias;
        return y.MoveToOuterDisposeScope();
    }
}

/// <summary>Initialisation shared by the layers that stand in for nn.Linear / nn.Conv2d.</summary>
internal static class LayerInit
{
    /// <summary>
    /// PyTorch's reset_parameters of nn.Linear and nn.Conv2d: weight kaiming-uniform with a = √5 (bound 1/√fan_in),
    /// bias U(−1/√fan_in, 1/√fan_in), fan_in = in/groups · kh · kw.
    /// </summary>
    public static void LikeTorch(Parameter weight, Parameter? bias)
    {
        using var _ = no_grad();
        nn.init.kaiming_uniform_(weight, a: Math.Sqrt(5));
        if (bias is null) return;
        var (fanIn, _) = nn.init.CalculateFanInAndFanOut(weight);
        var bound = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        nn.init.uniform_(bias, -bound, bound);
    }
}
