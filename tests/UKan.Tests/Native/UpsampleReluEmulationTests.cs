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

    /// <summary>
    /// The forward with the decoder's skip connection (relu(up(x)) + skip, the skip read in the output's layout): against
    /// the torch formulation, both layouts, and bf16 (the sum rounded once).
    /// </summary>
    [Theory]
    [InlineData(false, false, 2, 3, 5, 7)]
    [InlineData(true, false, 2, 37, 3, 7)]
    [InlineData(true, true, 2, 3, 4, 5)]
    public void The_forward_adds_the_skip(bool channelsLast, bool bf16, int n, int c, int h, int w)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(29);
        Tensor Stored(Tensor t) => bf16 ? t.to(bfloat16).to(float32) : t;
        var nhwc = Stored(randn(n, h, w, c, generator: gen) + 0.2);
        var x = channelsLast ? nhwc.permute(0, 3, 1, 2) : nhwc.permute(0, 3, 1, 2).contiguous();
        var gy = Stored(randn(n, c, 2 * h, 2 * w, generator: gen));
        var skipValues = Stored(randn(n, 2 * h, 2 * w, c, generator: gen));
        var skip = channelsLast ? skipValues.permute(0, 3, 1, 2) : skipValues.permute(0, 3, 1, 2).contiguous();
        Assert.True(UpsampleRelu.SkipFits(x, skip));
        var (memory, read) = CudaEmulation.RunOnPlanes("upsample_relu_harness", x, gy, UpsampleKernels.Geometry(x).Y, bf16, skip);

        var y = UpsampleRelu.Torch.Instance.UpsampleTwiceRelu(x, skip);
        TestTorch.AssertClose(y, UpsampleRelu.Torch.Instance.UpsampleTwiceRelu(x) + skip, 1e-6, 1e-6, "the formulation's skip");
        if (bf16) TestTorch.AssertRoundedToBf16(memory(y), read("y", 2 * h, 2 * w), 1e-6, "output");
        else TestTorch.AssertClose(memory(y), read("y", 2 * h, 2 * w), 1e-6, 1e-5, "output");
        var dx = memory(UpsampleRelu.Torch.Instance.UpsampleTwiceReluBackward(x, gy));
        if (bf16) TestTorch.AssertRoundedToBf16(dx, read("gx", h, w), 1e-5, "dx");
        else TestTorch.AssertClose(dx, read("gx", h, w), 1e-5, 1e-5, "dx");
    }

    /// <summary>
    /// The bfloat16 entries (bf16 autocast hands the decoder bf16 maps): x and dL/dy stored as bf16, the taps and the
    /// gather in float, y and dL/dx rounded once. Against the torch formulation in float32 on the same (bf16) values,
    /// rounded once: within half a bf16 step (and what another order of the float sums needs). The data must tell
    /// rounding from truncation, which a store that drops the low bits would do. The torch formulation itself takes
    /// the bf16 tensors (on the CPU) and gives that rounded reference.
    /// </summary>
    [Theory]
    [InlineData(false, 2, 3, 5, 7)]
    [InlineData(true, 2, 37, 3, 7)]
    [InlineData(true, 2, 3, 1, 2)]
    public void The_bf16_entries_round_the_float_computation_once(bool channelsLast, int n, int c, int h, int w)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(37);
        var nhwc = (randn(n, h, w, c, generator: gen) + 0.2).to(bfloat16).to(float32);   // values bf16 holds
        var x = channelsLast ? nhwc.permute(0, 3, 1, 2) : nhwc.permute(0, 3, 1, 2).contiguous();
        var gy = randn(n, c, 2 * h, 2 * w, generator: gen).to(bfloat16).to(float32);
        var x16 = x.to(bfloat16);

        Assert.Equal(channelsLast, TensorLayout.DenseChannelsLast(x16));
        var grid = UpsampleKernels.Geometry(x16);
        Assert.Equal(UpsampleKernels.Geometry(x), grid);                                    // one geometry for both storage types
        var (memory, read) = CudaEmulation.RunOnPlanes("upsample_relu_harness", x, gy, grid.Y, bf16: true);

        var reference = UpsampleRelu.Torch.Instance;
        var y = reference.UpsampleTwiceRelu(x);
        var dx = reference.UpsampleTwiceReluBackward(x, gy);
        Assert.True(y.eq(0).any().item<bool>() && y.gt(0).any().item<bool>(), "the test data must reach both sides of the ReLU");
        AssertTruncationShows(y, "output");
        AssertTruncationShows(dx, "dx");
        TestTorch.AssertRoundedToBf16(memory(y), read("y", 2 * h, 2 * w), 1e-6, "output");
        TestTorch.AssertRoundedToBf16(memory(dx), read("gx", h, w), 1e-5, "dx");

        var y16 = reference.UpsampleTwiceRelu(x16);
        var dx16 = reference.UpsampleTwiceReluBackward(x16, gy.to(bfloat16));
        Assert.Equal((ScalarType.BFloat16, ScalarType.BFloat16), (y16.dtype, dx16.dtype));
        Assert.True(y16.equal(y.to(bfloat16)).all().item<bool>() && dx16.equal(dx.to(bfloat16)).all().item<bool>(),
            "the torch formulation on bf16 tensors must be its float32 result rounded once");
    }

    /// <summary>
    /// That truncating <paramref name="reference"/> to bf16 (dropping the low 16 bits) would land more than 0.6 of a
    /// step from it somewhere, at a value large enough that the comparison's slack (a 1e-5 fraction of the largest)
    /// stays below a tenth of its step: a truncating store then fails the comparison with the rounded reference.
    /// </summary>
    static void AssertTruncationShows(Tensor reference, string what)
    {
        using var scope = NewDisposeScope();
        var r = reference.to(float64).abs();
        var step = pow(2.0, floor(log2(r.clamp_min(1e-30))) - 7);                           // bf16 keeps 8 significant bits
        var fraction = r / step - floor(r / step);                                         // how far truncation falls below
        var large = r.gt(0.05 * r.max().item<double>());
        Assert.True(fraction.gt(0.6).logical_and(large).any().item<bool>(),
            $"{what}: the test data must have values that truncation and rounding to bf16 put in different places");
    }
}
