using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Diffusion;

/// <summary>
/// Denoising diffusion (Ho et al., NeurIPS 2020) as Diffusion U-KAN trains and samples it
/// (CUHK-AIM-Group/U-KAN <c>Diffusion_UKAN/Diffusion/Diffusion.py</c>): linear β from β₁ to β_T over T steps (float32
/// values, then float64 arithmetic), q(x_t | x₀) = √ᾱ_t x₀ + √(1−ᾱ_t) ε, ε-prediction with the squared error summed over every element and
/// divided by 1000 (the official loss; <see cref="MeanLoss"/> is the usual mean), ancestral sampling with variance
/// σ_t² = β_t (σ₀² = the posterior variance at t = 1, and no noise at the last step), and DDIM (Song et al., ICLR 2021)
/// with fewer steps as an extension.
/// </summary>
public sealed class Ddpm
{
    public int Steps { get; }
    public Tensor Betas { get; }          // float64 (T)
    public Tensor AlphasBar { get; }
    public Tensor Coeff1 { get; }         // 1/√α_t
    public Tensor Coeff2 { get; }         // coeff1 · β_t / √(1−ᾱ_t)
    public Tensor PosteriorVariance { get; }
    public Tensor SamplingVariance { get; }  // [posterior_var[1], β_1, …, β_{T−1}]

    public Ddpm(int steps = 1000, double beta1 = 1e-4, double betaT = 0.02)
    {
        Steps = steps;
        // The reference computes linspace in float32 and then converts (torch.linspace(...).double()).
        Betas = linspace(beta1, betaT, steps, dtype: float32).to(float64);
        var alphas = 1 - Betas;
        AlphasBar = alphas.cumprod(0);
        var alphasBarPrev = cat([ones(1, dtype: float64), AlphasBar.narrow(0, 0, steps - 1)]);
        Coeff1 = (1 / alphas).sqrt();
        Coeff2 = Coeff1 * (1 - alphas) / (1 - AlphasBar).sqrt();
        PosteriorVariance = Betas * (1 - alphasBarPrev) / (1 - AlphasBar);
        SamplingVariance = cat([PosteriorVariance.narrow(0, 1, 1), Betas.narrow(0, 1, steps - 1)]);
    }

    /// <summary>v[t] as float32 on x's device, shaped to broadcast over (B, C, H, W) (the reference's extract()).</summary>
    static Tensor Extract(Tensor v, Tensor t, Tensor like) =>
        v.to(like.device).gather(0, t.to(like.device)).to(float32).view(-1, 1, 1, 1);

    public Tensor NoiseImages(Tensor x0, Tensor t, Tensor noise) =>
        Extract(AlphasBar.sqrt(), t, x0) * x0 + Extract((1 - AlphasBar).sqrt(), t, x0) * noise;

    /// <summary>Σ (ε̂ − ε)² / 1000, the reference's training loss.</summary>
    public static Tensor OfficialLoss(Tensor predicted, Tensor noise) => (predicted - noise).pow(2).sum() / 1000.0;

    public static Tensor MeanLoss(Tensor predicted, Tensor noise) => (predicted - noise).pow(2).mean();

    /// <summary>One ancestral step x_t → x_{t−1} from the model's ε̂ (noise = 0 at t = 0).</summary>
    public Tensor AncestralStep(Tensor xt, Tensor t, Tensor epsPred, Tensor? noise)
    {
        var mean = Extract(Coeff1, t, xt) * xt - Extract(Coeff2, t, xt) * epsPred;
        return noise is null ? mean : mean + Extract(SamplingVariance, t, xt).sqrt() * noise;
    }

    /// <summary>Ancestral sampling over all T steps from N(0, I); the result is clipped to [−1, 1].</summary>
    public Tensor Sample(Func<Tensor, Tensor, Tensor> model, long[] shape, Device device, Generator? generator = null, Action<int>? progress = null)
    {
        using var _ = no_grad();
        var x = Noise(shape, device, generator);
        for (int step = Steps - 1; step >= 0; step--)
        {
            using var scope = NewDisposeScope();
            var t = full(shape[0], step, dtype: int64, device: device);
            var eps = model(x, t);
            var noise = step > 0 ? Noise(shape, device, generator) : null;
            var next = AncestralStep(x, t, eps, noise);
            if (next.isnan().any().item<bool>()) throw new InvalidOperationException($"sampling produced NaN at step {step}");
            x.Dispose();
            x = next.MoveToOuterDisposeScope();
            progress?.Invoke(step);
        }
        return x.clamp(-1, 1);
    }

    /// <summary>DDIM sampling on an evenly spaced subsequence of <paramref name="steps"/> steps; eta = 0 is deterministic.</summary>
    public Tensor SampleDdim(Func<Tensor, Tensor, Tensor> model, long[] shape, Device device, int steps, double eta = 0, Generator? generator = null, Action<int>? progress = null)
    {
        using var _ = no_grad();
        var schedule = DdimSchedule(steps).Reverse().ToArray();
        var abar = AlphasBar.to(float64).cpu().data<double>().ToArray();
        var x = Noise(shape, device, generator);
        for (int i = 0; i < schedule.Length; i++)
        {
            using var scope = NewDisposeScope();
            int step = schedule[i];
            double a = abar[step], aPrev = i + 1 < schedule.Length ? abar[schedule[i + 1]] : 1.0;
            var eps = model(x, full(shape[0], step, dtype: int64, device: device));
            var x0 = ((x - Math.Sqrt(1 - a) * eps) / Math.Sqrt(a)).clamp(-1, 1);
            double sigma = eta * Math.Sqrt((1 - aPrev) / (1 - a) * (1 - a / aPrev));
            var next = Math.Sqrt(aPrev) * x0 + Math.Sqrt(Math.Max(0, 1 - aPrev - sigma * sigma)) * eps;
            if (sigma > 0) next = next + sigma * Noise(shape, device, generator);
            x.Dispose();
            x = next.MoveToOuterDisposeScope();
            progress?.Invoke(step);
        }
        return x.clamp(-1, 1);
    }

    /// <summary>
    /// Standard normal noise on <paramref name="device"/>. A seeded generator draws on the CPU and the noise is moved:
    /// TorchSharp's Generator is a CPU generator whatever device it is given (a CUDA randn with it fails), and
    /// drawing on the CPU also makes a seed give the same noise on every device.
    /// </summary>
    static Tensor Noise(long[] shape, Device device, Generator? generator) =>
        generator is null ? randn(shape, device: device) : randn(shape, generator: generator).to(device);

    /// <summary>The number of model evaluations a sampler makes: T for ancestral sampling, the DDIM subsequence's length otherwise.</summary>
    public int Evaluations(int? ddimSteps) => ddimSteps is int s ? DdimSchedule(s).Length : Steps;

    /// <summary>The DDIM subsequence: <paramref name="steps"/> timesteps evenly spaced over 0..T−1 (rounded, duplicates dropped), ascending.</summary>
    int[] DdimSchedule(int steps) =>
        Enumerable.Range(0, steps).Select(i => (int)Math.Round((double)i * (Steps - 1) / Math.Max(1, steps - 1))).Distinct().ToArray();
}
