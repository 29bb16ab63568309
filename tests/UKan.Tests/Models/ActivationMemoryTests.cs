using TorchSharp;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Models;

/// <summary>
/// A deterministic CPU stand-in for ALL U-KAN's memory claims: the native bytes a training-mode forward pass leaves
/// alive for backward (<see cref="NativeHeap"/>), per model, at the tiny dims [32,40,64], batch 2, 64×64. This is
/// activation memory only (weights and gradients exist before the window); GPU peaks are measured by `ukan bench`.
/// </summary>
[Collection(nameof(NativeHeapCollection))]
public class ActivationMemoryTests(ITestOutputHelper output)
{
    static double RetainedMiB(ModelSpec spec, KanPath? kanPath = null)
    {
        _ = TestTorch.Runtime;
        var saved = KanLinear.GlobalPath;
        KanLinear.GlobalPath = kanPath;
        try { return Retained(spec); }
        finally { KanLinear.GlobalPath = saved; }
    }

    static double Retained(ModelSpec spec)
    {
        manual_seed(0);
        var model = ModelFactory.Create(spec);
        model.train();
        var x = randn(2, 3, 64, 64);
        using (NewDisposeScope()) model.call(x).sum().backward();        // gradients allocated outside the window
        return NativeHeap.Retained(() => model.call(x), repeats: 3) / (double)(1 << 20);
    }

    [Fact]
    public void Grad_free_all_u_kan_keeps_far_less_than_exact_and_than_a_stacked_kan()
    {
        if (!NativeHeap.Available) Assert.Skip("glibc mallinfo2 is not available");
        var tiny = AllUKanModelTests.Tiny;
        ModelSpec All(SplineGradient g) => tiny.WithOptions(new AllUKanOptions { Activation = new() { Gradient = g } });
        var rows = new (string Name, ModelSpec Spec)[]
        {
            ("U-KAN", tiny with { Architecture = Architecture.UKan }),
            ("ALL U-KAN grad-free", All(SplineGradient.GradFree)),
            ("ALL U-KAN grad-free-recompute", All(SplineGradient.GradFreeRecompute)),
            ("ALL U-KAN exact", All(SplineGradient.Exact)),
            ("ALL U-KAN exact-recompute", All(SplineGradient.ExactRecompute)),
            ("stacked KAN", tiny with { Architecture = Architecture.StackedKan }),
        }.Select(r => (r.Name, MiB: RetainedMiB(r.Spec))).ToDictionary(r => r.Name, r => r.MiB);
        // The paper's baseline is efficient-kan as written: its KANLinear through plain autograd, which keeps every
        // B-spline intermediate. Our KanLinear fast path (one custom autograd node, the bases recomputed in backward)
        // already shrinks the stacked KAN; both are reported, the claim is checked against the reference baseline.
        rows["stacked KAN (efficient-kan autograd)"] = RetainedMiB(tiny with { Architecture = Architecture.StackedKan },
            KanPath.General);
        foreach (var (name, mib) in rows) output.WriteLine($"{name,-30} {mib,8:F1} MiB");

        Assert.True(rows["ALL U-KAN grad-free-recompute"] < rows["ALL U-KAN grad-free"]);
        Assert.True(rows["ALL U-KAN grad-free"] < 0.6 * rows["ALL U-KAN exact"]);
        Assert.True(rows["stacked KAN (efficient-kan autograd)"] > 10 * rows["ALL U-KAN grad-free"]);
        Assert.True(rows["stacked KAN"] < 0.5 * rows["stacked KAN (efficient-kan autograd)"]);
        Assert.True(rows["stacked KAN"] > rows["ALL U-KAN grad-free"]);
    }
}
