using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Fills a tensor from N(mean, std²) truncated to [a, b], as torch.nn.init.trunc_normal_ and timm's trunc_normal_
/// (the initialisation of every nn.Linear in the official U-KAN code) do: inverse-CDF sampling,
/// x = mean + std·√2·erfinv(U), U uniform on [2Φ(α) − 1, 2Φ(β) − 1] with α = (a − mean)/std, β = (b − mean)/std,
/// then clamped to [a, b] against rounding at the ends.
/// </summary>
/// <remarks>
/// Ours because TorchSharp 0.107's <c>nn.init.trunc_normal_</c> is wrong: with mean 0, std 0.02 it fills every
/// element with 0.02, and with other arguments it returns a skewed distribution and at times non-finite values
/// (measured 2026-11-29; UMLP's initialisation came out NaN for 4 of 40 seeds).
/// </remarks>
public static class TruncatedNormal
{
    public static Tensor Fill_(Tensor tensor, double mean = 0, double std = 1, double a = -2, double b = 2, Generator? generator = null)
    {
        if (!(std > 0) || !(a < b)) throw new ArgumentException($"truncated normal needs std > 0 and a < b (std {std}, [{a}, {b}])");
        using var _ = no_grad();
        double lo = 2 * StandardNormalCdf((a - mean) / std) - 1, hi = 2 * StandardNormalCdf((b - mean) / std) - 1;
        tensor.uniform_(lo, hi, generator);
        tensor.erfinv_().mul_(std * Math.Sqrt(2)).add_(mean);
        return tensor.clamp_(a, b);
    }

    /// <summary>Φ(x) = (1 + erf(x/√2))/2, in float64 through libtorch's erf.</summary>
    public static double StandardNormalCdf(double x)
    {
        using var t = torch.tensor(x / Math.Sqrt(2), float64);
        using var e = t.erf();
        return 0.5 * (1 + e.item<double>());
    }
}
