using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// The truncated normal initialisation against the analytic moments of the truncated normal distribution:
/// with α = (a−μ)/σ, β = (b−μ)/σ, Z = Φ(β) − Φ(α): mean μ + σ(φ(α) − φ(β))/Z and
/// variance σ²[1 + (αφ(α) − βφ(β))/Z − ((φ(α) − φ(β))/Z)²]. 10⁶ samples: standard errors below 1e-3·σ.
/// </summary>
public class TruncatedNormalTests
{
    static double Pdf(double x) => Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI);

    [Theory]
    [InlineData(0.0, 0.02, -2.0, 2.0)]     // the official Linear initialisation: effectively untruncated
    [InlineData(0.0, 1.0, -1.0, 0.5)]      // strongly truncated, asymmetric
    [InlineData(1.0, 1.0, -2.0, 2.0)]      // mean off centre
    [InlineData(0.0, 1.0, 1.0, 3.0)]       // one tail only
    public void Samples_have_the_moments_of_the_truncated_normal_and_stay_in_range(double mean, double std, double a, double b)
    {
        _ = TestTorch.Runtime;
        var x = TruncatedNormal.Fill_(empty(1_000_000, dtype: float64), mean, std, a, b, new Generator(7));
        double alpha = (a - mean) / std, beta = (b - mean) / std;
        double z = TruncatedNormal.StandardNormalCdf(beta) - TruncatedNormal.StandardNormalCdf(alpha);
        double d = (Pdf(alpha) - Pdf(beta)) / z;
        double expectedMean = mean + std * d;
        double expectedStd = std * Math.Sqrt(1 + (alpha * Pdf(alpha) - beta * Pdf(beta)) / z - d * d);

        Assert.True(x.isfinite().all().item<bool>());
        Assert.True(x.min().item<double>() >= a && x.max().item<double>() <= b);
        Assert.InRange(x.mean().item<double>(), expectedMean - 4e-3 * std, expectedMean + 4e-3 * std);
        Assert.InRange(x.std().item<double>(), expectedStd * 0.995, expectedStd * 1.005);
    }

    [Fact]
    public void Float32_weights_of_the_official_init_are_random_with_std_0_02()
    {
        _ = TestTorch.Runtime;
        manual_seed(0);
        var w = TruncatedNormal.Fill_(empty(512, 512), std: 0.02);
        Assert.InRange(w.std().item<float>(), 0.0199, 0.0201);
        Assert.InRange(w.mean().item<float>(), -2e-4, 2e-4);
        Assert.True(w.abs().max().item<float>() > 0.07);   // ±3.5σ is reached in 262,144 draws
    }

    [Fact]
    public void Normal_cdf_matches_tabulated_values()
    {
        _ = TestTorch.Runtime;
        Assert.Equal(0.5, TruncatedNormal.StandardNormalCdf(0), 12);
        Assert.Equal(0.9750021048517795, TruncatedNormal.StandardNormalCdf(1.96), 12);
        Assert.Equal(0.15865525393145707, TruncatedNormal.StandardNormalCdf(-1), 12);
    }
}
