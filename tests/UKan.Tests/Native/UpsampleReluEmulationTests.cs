using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The relu(×2 bilinear upsampling) CUDA kernels (Native/Kernels/upsample_relu.cu) run on the CPU
/// (<see cref="CudaEmulation"/>, Emulation/upsample_relu_harness.cpp: the geometry of <see cref="UpsampleKernels"/>)
/// against <see cref="UpsampleRelu.Torch"/>: the taps, the gather of the backward over the outputs that read each
/// input, its recomputed ReLU mask and the indexing of both layouts are checked without a GPU. (<c>ukan selftest
/// --device cuda</c> checks them on one.)
/// </summary>
public class UpsampleReluEmulationTests
{
    /// <summary>
    /// Shapes: NCHW with odd sizes; channels-last with rows of several blocks (2W·C = 518 values) and odd sizes; 1 × 1
    /// images (both taps of every output read the same value); one-row images, channels-last and NCHW.
    /// </summary>
    [Theory]
    [InlineData(false, 2, 3, 5, 7)]
    [InlineData(true, 2, 37, 3, 7)]
    [InlineData(false, 1, 4, 1, 1)]
    [InlineData(true, 2, 3, 1, 2)]
    [InlineData(false, 1, 2, 1, 9)]
    public void The_kernels_compute_the_torch_formulation(bool channelsLast, int n, int c, int h, int w)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(23);
        var nhwc = randn(n, h, w, c, generator: gen) + 0.2;
        var x = channelsLast ? nhwc.permute(0, 3, 1, 2) : nhwc.permute(0, 3, 1, 2).contiguous();
        var gy = randn(n, c, 2 * h, 2 * w, generator: gen);

        Assert.Equal(channelsLast, TensorLayout.DenseChannelsLast(x));
        var grid = UpsampleKernels.Geometry(x);
        Assert.Equal((channelsLast ? n : n * c) * h, (int)grid.X);
        var (memory, read) = CudaEmulation.RunOnPlanes("upsample_relu_harness", x, gy, grid.Y);

        var reference = UpsampleRelu.Torch.Instance;
        var y = reference.UpsampleTwiceRelu(x);
        var dx = reference.UpsampleTwiceReluBackward(x, gy);
        Assert.True(y.eq(0).any().item<bool>() && y.gt(0).any().item<bool>(), "the test data must reach both sides of the ReLU");
        TestTorch.AssertClose(memory(y), read("y", 2 * h, 2 * w), 1e-6, 1e-5, "output");
        TestTorch.AssertClose(memory(dx), read("gx", h, w), 1e-5, 1e-5, "dx");
    }
}
