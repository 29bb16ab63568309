using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Layers;

/// <summary>
/// The deterministic backward of ×2 bilinear upsampling (a strided convolution plus the border terms of the clamped
/// reads) against PyTorch's own gradient of F.interpolate, on odd, even, one-pixel and channels-last inputs; and the
/// switch that routes the models' upsampling through it.
/// </summary>
public class BilinearUpsampleTests
{
    static Tensor TorchGradient(Tensor x, Tensor g)
    {
        var leaf = x.detach().requires_grad_(true);
        F.interpolate(leaf, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false).backward([g]);
        return leaf.grad!.clone();
    }

    [Theory]
    [InlineData(2, 3, 5, 7, false)]
    [InlineData(1, 2, 1, 1, false)]
    [InlineData(1, 1, 1, 6, false)]
    [InlineData(2, 4, 8, 8, true)]
    public void Backward_equals_the_gradient_of_interpolate(int b, int c, int h, int w, bool channelsLast)
    {
        _ = TestTorch.Runtime;
        manual_seed(3);
        var x = randn(b, c, h, w, dtype: float64);
        // channels-last: (B, 2H, 2W, C) in memory, viewed as (B, C, 2H, 2W), as the trainer lays batches out.
        var g = channelsLast ? randn(b, 2 * h, 2 * w, c, dtype: float64).permute(0, 3, 1, 2) : randn(b, c, 2 * h, 2 * w, dtype: float64);
        TestTorch.AssertClose(TorchGradient(x, g), BilinearUpsample.Backward(g), atol: 1e-12, rtol: 1e-12, what: "input gradient");
    }

    [Fact]
    public void The_deterministic_switch_keeps_the_forward_and_the_gradient()
    {
        _ = TestTorch.Runtime;
        manual_seed(4);
        var x = randn(2, 3, 6, 5);
        var g = randn(2, 3, 12, 10);
        var expected = F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false);
        bool before = BilinearUpsample.Deterministic;
        try
        {
            BilinearUpsample.Deterministic = true;
            var leaf = x.clone().requires_grad_(true);
            var y = BilinearUpsample.Twice(leaf);
            Assert.True(y.equal(expected).all().item<bool>(), "the forward pass is PyTorch's, unchanged");
            y.backward([g]);
            TestTorch.AssertClose(TorchGradient(x, g), leaf.grad!, atol: 1e-6, rtol: 1e-5, what: "gradient through the custom function");
        }
        finally { BilinearUpsample.Deterministic = before; }
    }
}
