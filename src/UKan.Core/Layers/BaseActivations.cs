using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>The base branch's activation b(x) in y = W_b b(x) + W_s B(x) (KanLinear) and ψ = w_b b(u) + w_s s(u) (SaKAN).</summary>
public enum BaseActivation
{
    // Explicit JSON names: the kebab-case policy of the model options would otherwise write "si-lu" and "ge-lu".
    [JsonStringEnumMemberName("silu")] SiLU,
    [JsonStringEnumMemberName("identity")] Identity,
    [JsonStringEnumMemberName("relu")] ReLU,
    [JsonStringEnumMemberName("gelu")] GELU,
    [JsonStringEnumMemberName("tanh")] Tanh,
}

/// <summary>The base activations and their derivatives: one place for both, shared by KanLinear and SaKAN.</summary>
public static class BaseActivations
{
    public static Tensor Apply(BaseActivation kind, Tensor x) => kind switch
    {
        BaseActivation.SiLU => F.silu(x),
        BaseActivation.Identity => x.alias(),
        BaseActivation.ReLU => F.relu(x),
        BaseActivation.GELU => F.gelu(x),
        BaseActivation.Tanh => x.tanh(),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// b'(x), for backward passes written by hand (the recompute variant of Grad-Free Spline, docs/allukan.md §R.5):
    /// SiLU' = σ(x)(1 + x(1 − σ(x))); GELU (exact, erf form) ' = Φ(x) + x φ(x); ReLU' = 1[x > 0] (0 at 0, as autograd);
    /// tanh' = 1 − tanh².
    /// </summary>
    public static Tensor Derivative(BaseActivation kind, Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor d = kind switch
        {
            BaseActivation.SiLU => SiLUDerivative(x),
            BaseActivation.Identity => ones_like(x),
            BaseActivation.ReLU => x.gt(0).to(x.dtype),
            BaseActivation.GELU => GeluDerivative(x),
            BaseActivation.Tanh => 1 - x.tanh().square(),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        return d.MoveToOuterDisposeScope();
    }

    static Tensor SiLUDerivative(Tensor x)
    {
        var s = x.sigmoid();
        return s * (1 + x * (1 - s));
    }

    static Tensor GeluDerivative(Tensor x)
    {
        var cdf = (x / Math.Sqrt(2)).erf().add_(1).mul_(0.5);
        var pdf = (-0.5 * x.square()).exp_().mul_(1 / Math.Sqrt(2 * Math.PI));
        return cdf + x * pdf;
    }
}
