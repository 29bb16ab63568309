using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Diffusion;

/// <summary>
/// The arithmetic of FID and Inception Score, as the tools Diffusion U-KAN evaluates with compute it (pytorch-fid's
/// calculate_frechet_distance; the inception-score-pytorch split formula). The Inception features and class
/// probabilities they are computed from come from an Inception v3 network (not part of this build: see docs/diffusion.md).
/// </summary>
public static class GenerativeMetrics
{
    /// <summary>
    /// Fréchet distance between Gaussians fitted to two feature sets (rows are samples; covariance with n − 1):
    /// ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^½. The last trace is computed as Σ √λ of the symmetric matrix
    /// Σ₁^½ Σ₂ Σ₁^½ (same eigenvalues as Σ₁Σ₂), which stays real and stable where a general matrix square root does not.
    /// </summary>
    public static double FrechetDistance(Tensor featuresA, Tensor featuresB)
    {
        using var scope = NewDisposeScope();
        var (mu1, s1) = MeanCov(featuresA.to(float64).cpu());
        var (mu2, s2) = MeanCov(featuresB.to(float64).cpu());
        var diff = mu1 - mu2;
        var (e1, v1) = linalg.eigh(s1);
        var sqrtS1 = v1.matmul(diag(e1.clamp_min(0).sqrt())).matmul(v1.T);
        var middle = sqrtS1.matmul(s2).matmul(sqrtS1);
        var eig = linalg.eigvalsh((middle + middle.T) / 2);
        double trCovMean = eig.clamp_min(0).sqrt().sum().item<double>();
        return diff.dot(diff).item<double>() + s1.trace().item<double>() + s2.trace().item<double>() - 2 * trCovMean;
    }

    static (Tensor Mean, Tensor Cov) MeanCov(Tensor x)
    {
        var mean = x.mean([0L]);
        var c = x - mean;
        return (mean, c.T.matmul(c) / (x.shape[0] - 1));
    }

    /// <summary>
    /// Inception Score over <paramref name="splits"/> equal parts of the softmax rows: exp(mean KL(p(y|x) ‖ p(y))) per
    /// part; returns the mean and the (population) standard deviation over the parts.
    /// </summary>
    public static (double Mean, double Std) InceptionScore(Tensor probabilities, int splits = 10)
    {
        using var scope = NewDisposeScope();
        var p = probabilities.to(float64).cpu();
        long n = p.shape[0], part = n / splits;
        var scores = new double[splits];
        for (int k = 0; k < splits; k++)
        {
            var chunk = p.narrow(0, k * part, part);
            var py = chunk.mean([0L], keepdim: true);
            var kl = (chunk * (chunk.log() - py.log())).nan_to_num(0.0).sum(1);
            scores[k] = Math.Exp(kl.mean().item<double>());
        }
        double mean = scores.Average();
        return (mean, Math.Sqrt(scores.Sum(s => (s - mean) * (s - mean)) / splits));
    }
}
