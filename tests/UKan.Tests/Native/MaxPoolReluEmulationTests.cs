using UKan.Layers;
using UKan.Native;
using UKan.Tests.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The relu(2 × 2 max-pooling) CUDA kernels (Native/Kernels/maxpool_relu.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/maxpool_relu_harness.cpp: the geometry of <see cref="MaxPoolKernels"/>) against
/// <see cref="MaxPoolRelu.Torch"/>: the windows, the argmax the backward recomputes (ties to the first maximum, the last
/// NaN winning), the gradient written to all four inputs of a window, inputs in no window at odd sizes, and the
/// indexing of both layouts are checked without a GPU. (<c>ukan selftest --device cuda</c> checks them on one.)
/// </summary>
public class MaxPoolReluEmulationTests
{
    /// <summary>
    /// Shapes: NCHW with odd H and W; channels-last with rows of several blocks (⌊W/2⌋·C = 259 values) and an odd W;
    /// single-window images in channels-last; one-channel NCHW images of one window row (the NaN and tie data need
    /// H, W ≥ 4 for their planted NaNs, which the first two shapes have).
    /// </summary>
    [Theory]
    [InlineData(false, 2, 3, 5, 7)]
    [InlineData(true, 2, 37, 4, 15)]
    [InlineData(true, 3, 3, 2, 2)]
    [InlineData(false, 2, 1, 3, 8)]
    public void The_kernels_compute_the_torch_formulation(bool channelsLast, int n, int c, int h, int w)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(29);
        var x = MaxPoolReluTests.TiesAndNaNs(channelsLast, n, c, h, w, gen);
        var gy = randn(n, c, h / 2, w / 2, generator: gen);
        if (h >= 4 && w >= 4) MaxPoolReluTests.AssertDataHasTiesAndNaNs(x);

        Assert.Equal(channelsLast, TensorLayout.DenseChannelsLast(x));
        var grid = MaxPoolKernels.Geometry(x);
        Assert.Equal((channelsLast ? n : n * c) * (h / 2), (int)grid.X);
        var (memory, read) = CudaEmulation.RunOnPlanes("maxpool_relu_harness", x, gy, grid.Y);

        var reference = MaxPoolRelu.Torch.Instance;
        var y = reference.MaxPoolTwiceRelu(x);
        var dx = reference.MaxPoolTwiceReluBackward(x, gy);
        Assert.True(y.eq(0).any().item<bool>() && y.gt(0).any().item<bool>(), "the test data must reach both sides of the ReLU");
        MaxPoolReluTests.AssertSameWithNaNs(memory(y), read("y", h / 2, w / 2), "output");
        TestTorch.AssertClose(memory(dx), read("gx", h, w), 0, 0, "dx");
    }
}
