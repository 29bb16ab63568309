using TorchSharp;
using UKan.Native;

namespace UKan.Tests;

/// <summary>Starts torch once for the whole test run, on the CPU, and offers tensor comparison helpers.</summary>
public static class TestTorch
{
    static readonly Lazy<RuntimeInfo> runtime = new(() =>
    {
        var rt = TorchRuntime.Initialize(new RuntimeOptions(DeviceRequest.Cpu));
        torch.set_num_threads(Math.Max(1, Environment.ProcessorCount));
        return rt;
    });

    public static RuntimeInfo Runtime => runtime.Value;

    /// <summary>Asserts |actual - expected| <= atol + rtol * |expected| elementwise, reporting the worst element.</summary>
    public static void AssertClose(torch.Tensor expected, torch.Tensor actual, double atol = 1e-5, double rtol = 1e-4, string what = "")
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = torch.NewDisposeScope();
        var e = expected.detach().to(torch.float64).cpu();
        var a = actual.detach().to(torch.float64).cpu();
        var excess = (a - e).abs() - (atol + rtol * e.abs());
        var worst = excess.max().item<double>();
        if (worst > 0 || double.IsNaN(worst))
        {
            var idx = excess.flatten().argmax().item<long>();
            var maxAbs = (a - e).abs().max().item<double>();
            Assert.Fail($"{what}: mismatch at flat index {idx}: expected {e.flatten()[idx].item<double>():G9}, got {a.flatten()[idx].item<double>():G9}; max |diff| {maxAbs:G3} (atol {atol}, rtol {rtol})");
        }
    }

    /// <summary>
    /// Asserts that <paramref name="actual"/> (bfloat16 values, read back as float32) is the float32
    /// <paramref name="reference"/> rounded once to nearest: within half a bf16 step of it (2^(e−8) for a value in
    /// [2^e, 2^(e+1)): bf16 keeps 8 significant bits) plus <paramref name="slack"/>·max|reference|, what float
    /// arithmetic in another order than the reference's needs. Truncating instead of rounding is up to a whole step
    /// off and fails on most data; so does a value left in float32.
    /// </summary>
    public static void AssertRoundedToBf16(torch.Tensor reference, torch.Tensor actual, double slack, string what = "")
    {
        Assert.Equal(reference.shape, actual.shape);
        using var scope = torch.NewDisposeScope();
        var r = reference.detach().to(torch.float64).cpu();
        var a = actual.detach().to(torch.float64).cpu();
        Assert.True(a.eq(a.to(torch.bfloat16).to(torch.float64)).all().item<bool>(), $"{what}: values that bfloat16 cannot hold (not stored as bf16)");
        var halfStep = torch.pow(2.0, torch.floor(torch.log2(r.abs().clamp_min(1e-30))) - 8);
        var excess = (a - r).abs() - (halfStep + slack * r.abs().max());
        var worst = excess.max().item<double>();
        if (worst > 0 || double.IsNaN(worst))
        {
            var idx = excess.flatten().argmax().item<long>();
            Assert.Fail($"{what}: at flat index {idx} reference {r.flatten()[idx].item<double>():G9}, got {a.flatten()[idx].item<double>():G9}: "
                + "more than half a bf16 step apart");
        }
    }

    /// <summary>
    /// Copies every state-dict entry of <paramref name="from"/> into the same key of <paramref name="to"/> (keys of
    /// <paramref name="from"/> that <paramref name="to"/> lacks are an error). Tests that need two identically
    /// initialised modules use this rather than the same seed: the global generator is shared by parallel tests.
    /// </summary>
    public static void CopyState(torch.nn.Module from, torch.nn.Module to) => UKan.Checkpoints.StateDictLoader.Copy(from, to);

    /// <summary>
    /// A freshly built model is usable: every parameter and buffer is finite, and every normalisation layer starts as
    /// the identity affine map (weight 1, bias 0), as PyTorch initialises them. Guards against framework layers that
    /// leave their parameters uninitialised (TorchSharp's GroupNorm does).
    /// </summary>
    public static void AssertFreshlyInitialised(torch.nn.Module model)
    {
        foreach (var (name, p) in model.named_parameters())
            Assert.True(p.isfinite().all().item<bool>(), $"parameter {name} is not finite after construction");
        foreach (var (name, b) in model.named_buffers())
            if (b.is_floating_point()) Assert.True(b.isfinite().all().item<bool>(), $"buffer {name} is not finite after construction");
        foreach (var (name, m) in model.named_modules())
        {
            var (w, bias) = m switch
            {
                TorchSharp.Modules.GroupNorm g => (g.weight, g.bias),
                TorchSharp.Modules.LayerNorm l => (l.weight, l.bias),
                TorchSharp.Modules.BatchNorm2d bn => (bn.weight, bn.bias),
                TorchSharp.Modules.BatchNorm1d bn => (bn.weight, bn.bias),
                _ => (null, null),
            };
            if (w is not null) Assert.True(w.eq(1).all().item<bool>(), $"{name} ({m.GetType().Name}) weight is not all ones");
            if (bias is not null) Assert.True(bias.eq(0).all().item<bool>(), $"{name} ({m.GetType().Name}) bias is not all zeros");
            // A random initialisation, never a constant (TorchSharp 0.107's trunc_normal_ filled every Linear with 0.02).
            var random = m switch
            {
                TorchSharp.Modules.Linear l => l.weight,
                TorchSharp.Modules.Conv2d c => c.weight,
                _ => null,
            };
            if (random is not null && random.numel() > 1)
                Assert.True(random.std().item<float>() > 0, $"{name} ({m.GetType().Name}) weight is constant");
        }
    }
}
