using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Diagnostics;

/// <summary>
/// Running statistics and affine parameters far from a fresh BatchNorm2d's identity (mean 0, variance 1, γ = 1, β = 0),
/// as after training, so that a comparison of evaluation-mode paths (batch norm folding, the fused bias + ReLU after it)
/// would show a wrong fold or a lost bias.
/// </summary>
public static class BatchNormStatistics
{
    /// <summary>
    /// Sets every BatchNorm2d of <paramref name="model"/> from the global generator: μ ~ N(0, 0.5²), σ² ~ U(0.5, 2),
    /// γ ~ U(0.5, 1.5), β ~ N(0, 0.2²). Returns the batch norms.
    /// </summary>
    public static IReadOnlyList<BatchNorm2d> Perturb(nn.Module model)
    {
        var norms = model.named_modules().Select(m => m.module).OfType<BatchNorm2d>().ToList();
        using var _ = no_grad();
        foreach (var bn in norms)
        {
            bn.running_mean!.copy_(randn_like(bn.running_mean) * 0.5);
            bn.running_var!.copy_(rand_like(bn.running_var) * 1.5 + 0.5);
            bn.weight!.copy_(rand_like(bn.weight) + 0.5);
            bn.bias!.copy_(randn_like(bn.bias) * 0.2);
        }
        return norms;
    }
}
