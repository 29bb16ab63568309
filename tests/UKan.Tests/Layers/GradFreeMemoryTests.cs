using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// Item 2(c): what one ψ evaluation keeps alive for backward, in bytes, measured deterministically as the growth of the
/// native heap (<see cref="NativeHeap"/>) between before the forward pass and after it, with only the output held
/// (ψ's own dispose scope has freed every temporary by then, so what remains is the output plus the tensors the
/// autograd graph saved). N = 2^18 float32 elements: 1 MiB per element-sized tensor.
/// </summary>
[Collection(nameof(NativeHeapCollection))]
public class GradFreeMemoryTests(ITestOutputHelper output)
{
    const int N = 1 << 18;
    const double MiB = 1 << 20;

    static double RetainedMiB(SplineGradient gradient, KanPath path)
    {
        _ = TestTorch.Runtime;
        manual_seed(0);
        var psi = new SharedActivation(new SharedActivationOptions { Gradient = gradient }) { Path = path };
        var u = (randn(N) * 1.5).requires_grad_(true);
        // Warm up: gradient buffers of u and of the parameters are allocated here, not in the measured window.
        using (NewDisposeScope()) psi.call(u).sum().backward();
        var bytes = NativeHeap.Retained(() => psi.call(u));
        return bytes / MiB;
    }

    [Fact]
    public void Grad_free_keeps_the_basis_only_and_recompute_keeps_nothing_but_the_output()
    {
        if (!NativeHeap.Available) Assert.Skip("glibc mallinfo2 is not available");
        var fast = Enum.GetValues<SplineGradient>().ToDictionary(m => m, m => RetainedMiB(m, KanPath.Fast));
        var general = Enum.GetValues<SplineGradient>().ToDictionary(m => m, m => RetainedMiB(m, KanPath.General));
        foreach (var m in fast.Keys)
            output.WriteLine($"{m,-18} closed-form cubic: {fast[m],6:F2} MiB   Cox-de Boor: {general[m],6:F2} MiB   = floats kept per element");

        // Grad-Free: output (1) + basis (K = 8) + SiLU(u) and Σ c B kept for ∂/∂w_b and ∂/∂w_s (1 + 1) = 11 floats.
        Assert.InRange(fast[SplineGradient.GradFree], 10.5, 11.5);
        Assert.InRange(general[SplineGradient.GradFree], 10.5, 11.5);
        // Autograd through the basis keeps the intermediates of its evaluation: at least 3x more, far more for the recursion.
        Assert.True(fast[SplineGradient.Exact] > 3 * fast[SplineGradient.GradFree]);
        Assert.True(general[SplineGradient.Exact] > 5 * general[SplineGradient.GradFree]);
        // Recompute: only the output (u is the caller's and is referenced, not copied).
        foreach (var m in new[] { SplineGradient.GradFreeRecompute, SplineGradient.ExactRecompute })
        {
            Assert.InRange(fast[m], 0.9, 1.2);
            Assert.InRange(general[m], 0.9, 1.2);
        }
    }
}
