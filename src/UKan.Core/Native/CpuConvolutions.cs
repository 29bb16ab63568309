using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>What CPU convolutions run on, and why; <paramref name="Warn"/>: the reason is news the user must be told.</summary>
public sealed record CpuConvolutionStatus(bool OneDnn, string Reason, bool Warn = false)
{
    /// <summary>The instruction-set limit oneDNN runs under in this process (<see cref="OneDnnIsa.Describe"/>).</summary>
    public string Isa { get; init; } = OneDnnIsa.Describe();
}

/// <summary>
/// Guards against wrong CPU convolutions. libtorch runs CPU convolutions on oneDNN, whose kernels are generated at
/// run time for the CPU found; on an AMD EPYC with AVX-512 (this workplace, 2026-11-29) the oneDNN of libtorch 2.10
/// returned wrong input gradients for every 3×3 convolution with 8 output channels we tried (up to 57 % relative
/// error, some NaN) and wrong outputs for a 3×3 stride-2 convolution 40→64 on 4×4 inputs, while the same calls with
/// oneDNN off matched float64 to 1e-6. Silent, so it must be looked for: at start-up a probe runs a few small
/// convolutions, forward and backward, in float32 and compares them with float64 (which oneDNN does not handle, so
/// the reference is ATen's own code); if any differs, oneDNN is switched off for convolutions
/// (torch.backends.mkldnn.enabled = False) and the probe is run again on ATen's path.
/// UKAN_ONEDNN=on or off skips the probe and forces the choice. The fallback costs speed (paper preset, batch 8 at
/// 256×256 on 2 cores: about 2.4 s per training step instead of 1.6 s); limiting oneDNN to AVX
/// (ONEDNN_MAX_CPU_ISA=AVX, read by oneDNN at its first use) passed the probe there at about 2.0 s. The CLI therefore
/// chooses such a limit before torch loads (<see cref="OneDnnIsa"/>); this probe still checks whatever is in effect.
/// </summary>
public static class CpuConvolutions
{
    public const string Variable = "UKAN_ONEDNN";

    /// <summary>Relative error (max |float32 − float64| / max |float64|) above which a probe fails; fp32 gives ~1e-6.</summary>
    public const double Tolerance = 1e-4;

    /// <summary>The probe's convolutions: (batch, in, out, size, kernel, stride, groups). Kept small: the whole probe takes tens of ms.</summary>
    static readonly (int N, int In, int Out, int Size, int Kernel, int Stride, int Groups)[] Cases =
    [
        (2, 3, 8, 16, 3, 1, 1),      // failed: input gradient (any 3×3 with 8 output channels)
        (2, 16, 8, 8, 3, 1, 1),      // failed: NaN input gradient
        (2, 40, 64, 4, 3, 2, 1),     // failed: output (U-KAN's patch embedding at tiny dims)
        (2, 3, 16, 32, 3, 1, 1),     // U-KAN's first convolution
        (2, 32, 32, 8, 3, 1, 32),    // depthwise, as in the KAN blocks
        (2, 64, 32, 8, 1, 1, 1),     // 1×1
    ];

    /// <summary>Applies UKAN_ONEDNN (auto by default) and returns what CPU convolutions now run on.</summary>
    public static CpuConvolutionStatus Configure() => Configure(Environment.GetEnvironmentVariable(Variable));

    /// <summary>Applies <paramref name="setting"/> (auto, on or off; null is auto).</summary>
    public static CpuConvolutionStatus Configure(string? setting)
    {
        if (AtenContext.MkldnnEnabled is null)
            return new CpuConvolutionStatus(false, "oneDNN switch not reachable in this libtorch; left as built");
        setting = (setting ?? "auto").Trim().ToLowerInvariant();
        switch (setting)
        {
            case "on": UseOneDnn(true); return new(true, $"{Variable}=on");
            case "off": UseOneDnn(false); return new(false, $"{Variable}=off");
            case "" or "auto": break;
            default: throw new UserError($"{Variable}={setting}: use auto (check oneDNN at start-up), on or off.");
        }
        UseOneDnn(true);
        var (error, failed) = Probe();
        if (failed is null)
        {
            // Saves the CLI's probe processes for this CPU next time (see OneDnnIsa): no limit was needed.
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(OneDnnIsa.IsaVariable)))
            {
                var cache = OneDnnIsa.CachePath(TorchRuntime.Current.LibTorch.Path);
                if (OneDnnIsa.ReadCached(cache) is null) OneDnnIsa.Store(cache, OneDnnIsa.NoLimit);
            }
            return new(true, $"probe passed (worst relative error {error:E1})");
        }
        UseOneDnn(false);
        var (after, stillFailed) = Probe();
        var why = $"oneDNN gave wrong results on this CPU under {OneDnnIsa.Describe()} ({failed}: relative error {Format(error)}); " +
                  $"using ATen's own convolutions (slower; the CLI tries lower oneDNN ISAs at start-up, or set {OneDnnIsa.OptionVariable}=AVX; check with 'ukan info')";
        if (stillFailed is not null)
            why = $"CPU convolutions are wrong on this machine with oneDNN ({failed}: {Format(error)}) and without it " +
                  $"({stillFailed}: {Format(after)}); CPU results here cannot be trusted";
        return new(false, why, Warn: true);
    }

    static void UseOneDnn(bool on)
    {
        AtenContext.MkldnnEnabled = on;
        // ATen tries NNPACK only where oneDNN does not take a convolution (the float64 reference, the fallback); where
        // NNPACK does not know the CPU it warns on every call, and the probe has not checked it: off.
        AtenContext.SetNnpackEnabled(false);
    }

    static string Format(double e) => double.IsNaN(e) ? "NaN" : e.ToString("E1");

    /// <summary>Runs every case; returns the worst relative error and a description of the first failing case, if any.</summary>
    public static (double Worst, string? Failed) Probe()
    {
        using var scope = NewDisposeScope();
        using var _ = enable_grad();
        var generator = new Generator(20261129);
        double worst = 0;
        string? failed = null;
        foreach (var c in Cases)
        {
            var x = randn(c.N, c.In, c.Size, c.Size, dtype: float64, generator: generator);
            var w = randn(c.Out, c.In / c.Groups, c.Kernel, c.Kernel, dtype: float64, generator: generator) * 0.3;
            var reference = Gradients(x, w, c.Stride, c.Kernel / 2, c.Groups, seed: generator);
            var single = Gradients(x.to(float32), w.to(float32), c.Stride, c.Kernel / 2, c.Groups, upstream: reference.Upstream);
            foreach (var (name, a, b) in new[] { ("output", single.Y, reference.Y), ("input gradient", single.Dx, reference.Dx),
                         ("weight gradient", single.Dw, reference.Dw) })
            {
                var error = (a.to(float64) - b).abs().max().item<double>() / (b.abs().max().item<double>() + 1e-30);
                if (double.IsNaN(error) || error > Tolerance)
                    failed ??= $"{c.Kernel}x{c.Kernel} conv {c.In}->{c.Out}, stride {c.Stride}, groups {c.Groups}, {c.Size}x{c.Size}: {name}";
                worst = Math.Max(worst, error);   // Math.Max propagates NaN: a NaN anywhere is reported as the worst
            }
        }
        return (worst, failed);
    }

    sealed record Result(Tensor Y, Tensor Dx, Tensor Dw, Tensor Upstream);

    static Result Gradients(Tensor x, Tensor w, int stride, int padding, int groups, Generator? seed = null, Tensor? upstream = null)
    {
        x = x.detach().requires_grad_(true);
        w = w.detach().requires_grad_(true);
        var y = nn.functional.conv2d(x, w, strides: [stride, stride], padding: [padding, padding], groups: groups);
        upstream ??= randn(y.shape, dtype: float64, generator: seed);
        var g = autograd.grad([y], [x, w], [upstream.to(y.dtype)]);
        return new Result(y.detach(), g[0], g[1], upstream);
    }
}
