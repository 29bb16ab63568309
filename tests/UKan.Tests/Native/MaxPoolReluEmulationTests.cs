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

    /// <summary>
    /// The bfloat16 entries (bf16 autocast hands the encoder bf16 maps): x and dL/dy stored as bf16, compared in float.
    /// Selection and ReLU copy values, so output and dL/dx must equal the float32 torch formulation on the same (bf16)
    /// values rounded to bf16, ties, NaNs and inputs in no window included; the torch formulation itself takes the bf16
    /// tensors (on the CPU) with the same results.
    /// </summary>
    [Theory]
    [InlineData(false, 2, 3, 5, 7)]
    [InlineData(true, 2, 37, 4, 15)]
    [InlineData(true, 3, 3, 2, 2)]
    public void The_bf16_entries_select_as_the_float32_formulation(bool channelsLast, int n, int c, int h, int w)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(29);                                                      // the float32 test's data (ties at positive maxima)
        var x = MaxPoolReluTests.TiesAndNaNs(channelsLast, n, c, h, w, gen);
        var gy = randn(n, c, h / 2, w / 2, generator: gen).to(bfloat16).to(float32);   // values bf16 holds
        var x16 = x.to(bfloat16);
        MaxPoolReluTests.AssertSameWithNaNs(x, x16.to(float32), "x in bf16");           // the ties survive the storage
        if (h >= 4 && w >= 4) MaxPoolReluTests.AssertDataHasTiesAndNaNs(x16.to(float32));

        Assert.Equal(channelsLast, TensorLayout.DenseChannelsLast(x16));
        var grid = MaxPoolKernels.Geometry(x16);
        Assert.Equal(MaxPoolKernels.Geometry(x), grid);                                    // one geometry for both storage types
        var (memory, read) = CudaEmulation.RunOnPlanes("maxpool_relu_harness", x, gy, grid.Y, bf16: true);

        var reference = MaxPoolRelu.Torch.Instance;
        var y = reference.MaxPoolTwiceRelu(x).to(bfloat16).to(float32);
        var dx = reference.MaxPoolTwiceReluBackward(x, gy).to(bfloat16).to(float32);
        Assert.True(y.eq(0).any().item<bool>() && y.gt(0).any().item<bool>(), "the test data must reach both sides of the ReLU");
        MaxPoolReluTests.AssertSameWithNaNs(memory(y), read("y", h / 2, w / 2), "output");
        TestTorch.AssertClose(memory(dx), read("gx", h, w), 0, 0, "dx");

        var y16 = reference.MaxPoolTwiceRelu(x16);
        var dx16 = reference.MaxPoolTwiceReluBackward(x16, gy.to(bfloat16));
        Assert.Equal((ScalarType.BFloat16, ScalarType.BFloat16), (y16.dtype, dx16.dtype));
        MaxPoolReluTests.AssertSameWithNaNs(y, y16.to(float32), "torch formulation on bf16: output");
        TestTorch.AssertClose(dx, dx16.to(float32), 0, 0, "torch formulation on bf16: dx");
    }
}
