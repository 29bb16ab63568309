using UKan.Layers;
using UKan.Native;
using UKan.Tests.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The in-place bias + ReLU CUDA kernels (Native/Kernels/bias_relu.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/bias_relu_harness.cpp: the geometry of <see cref="BiasReluKernels"/>) against <see cref="BiasRelu.Torch"/>:
/// the channel each thread derives once, the vector and scalar paths, the strided loops and NaN passing through ReLU
/// are checked without a GPU. (<c>ukan selftest --device cuda</c> checks them on one.)
/// </summary>
public class BiasReluEmulationTests
{
    /// <summary>
    /// Shapes: channels-last with C = 16 and 64 (vector loads; 64 with enough rows for several blocks), C = 3 (scalar:
    /// not a multiple of 4, the grid a multiple of 3 blocks); NCHW with odd H·W (scalar), H·W a multiple of 4 (vector),
    /// and 33 × 33 planes (a plane in two chunks). Odd H and W throughout except where the vector path needs
    /// H·W % 4 = 0. <paramref name="maxBlocks"/> caps the grid as large maps are capped on a GPU, so that the kernels'
    /// loops run several times (64 channels over 2 blocks: 8 passes; C = 3 over 3 blocks, rounded up from 1: 3 passes;
    /// NCHW 33 × 33 in one chunk: 2 passes).
    /// </summary>
    [Theory]
    [InlineData(true, 2, 16, 5, 7, BiasReluKernels.MaxBlocks)]
    [InlineData(true, 2, 3, 5, 7, BiasReluKernels.MaxBlocks)]
    [InlineData(true, 1, 64, 33, 31, BiasReluKernels.MaxBlocks)]
    [InlineData(true, 1, 64, 33, 31, 2)]
    [InlineData(true, 2, 3, 33, 35, 1)]
    [InlineData(false, 2, 16, 5, 7, BiasReluKernels.MaxBlocks)]
    [InlineData(false, 2, 64, 3, 4, BiasReluKernels.MaxBlocks)]
    [InlineData(false, 2, 3, 33, 33, BiasReluKernels.MaxBlocks)]
    [InlineData(false, 2, 3, 33, 33, 1)]
    public void The_kernels_compute_the_torch_formulation(bool channelsLast, int n, int c, int h, int w, long maxBlocks)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var (y, bias) = Data(channelsLast, n, c, h, w, new Generator(31));
        var expected = BiasRelu.Torch.Instance.BiasReluInPlace(y.clone(), bias);
        Assert.True(expected.eq(0).any().item<bool>() && expected.gt(0).any().item<bool>() && expected.isnan().any().item<bool>(),
            "the test data must reach both sides of the ReLU and hold NaNs");
        MaxPoolReluTests.AssertSameWithNaNs(Memory(expected, channelsLast), Emulate(y, bias, channelsLast, bf16: false, maxBlocks), "output");
    }

    /// <summary>
    /// The bfloat16 entries (bf16 autocast's convolution outputs): y and b hold bf16 values; the result is the float32
    /// computation rounded once to bf16, exactly. Both layouts, vector (C = 16) and scalar (C = 3) paths.
    /// </summary>
    [Theory]
    [InlineData(true, 2, 16, 5, 7)]
    [InlineData(true, 2, 3, 5, 7)]
    [InlineData(false, 2, 16, 4, 6)]
    [InlineData(false, 2, 3, 5, 7)]
    public void The_bf16_entries_round_the_float_computation_once(bool channelsLast, int n, int c, int h, int w)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var (y, bias) = Data(channelsLast, n, c, h, w, new Generator(37));
        (y, bias) = (y.to(bfloat16).to(float32), bias.to(bfloat16).to(float32));   // values bf16 holds
        var exact = BiasRelu.Torch.Instance.BiasReluInPlace(y.clone(), bias);
        var reference = exact.to(bfloat16).to(float32);
        var actual = Emulate(y, bias, channelsLast, bf16: true);
        Assert.True(reference.nan_to_num(0).ne(exact.nan_to_num(0)).any().item<bool>(), "the test data must need rounding to bf16");
        MaxPoolReluTests.AssertSameWithNaNs(Memory(reference, channelsLast), actual, "bf16 output");
    }

    [Fact]
    public void Vector_loads_are_taken_only_for_a_divisible_layout_at_an_aligned_address()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var last = zeros(2, 5, 7, 16).permute(0, 3, 1, 2);                                      // channels-last
        Assert.Equal(4, BiasReluKernels.Geometry(last, 0).Vec);
        Assert.Equal(1, BiasReluKernels.Geometry(last, 4).Vec);                                  // a float32 map 4 bytes off
        Assert.Equal(4, BiasReluKernels.Geometry(last.to(bfloat16), 8).Vec);                     // bf16 loads 8 bytes
        Assert.Equal(1, BiasReluKernels.Geometry(zeros(2, 16, 5, 7), 0).Vec);                    // NCHW, H·W = 35
        Assert.Equal(4, BiasReluKernels.Geometry(zeros(2, 3, 4, 6), 0).Vec);                     // NCHW, H·W = 24
        Assert.Throws<ArgumentException>(() => BiasReluKernels.Geometry(zeros(2, 3, 4, 6).transpose(2, 3), 0));
        Assert.Throws<ArgumentException>(() => BiasReluKernels.Geometry(zeros(2, 3, 4, 6, dtype: float16), 0));
    }

    /// <summary>
    /// A map in (N, C, H, W) with the requested layout, values of both signs and NaNs at a few places, and a per-channel
    /// bias of both signs (distinct per channel, so that a wrong channel shows).
    /// </summary>
    static (Tensor Y, Tensor Bias) Data(bool channelsLast, int n, int c, int h, int w, Generator gen)
    {
        var nhwc = randn(n, h, w, c, generator: gen) * 2;
        var flat = nhwc.view(-1);
        foreach (long i in new long[] { 0, 5, flat.numel() / 2, flat.numel() - 1 }) flat[i].fill_(float.NaN);
        var y = nhwc.permute(0, 3, 1, 2);
        y = channelsLast ? y : y.contiguous();
        Assert.Equal(channelsLast, TensorLayout.DenseChannelsLast(y));
        return (y, linspace(-1.5, 1.25, c) + randn(c, generator: gen) * 0.01);
    }

    /// <summary>An (N, C, H, W) tensor's values in the kernels' memory order for the layout, flattened.</summary>
    static Tensor Memory(Tensor t, bool channelsLast) => (channelsLast ? t.permute(0, 2, 3, 1) : t).flatten();

    /// <summary>
    /// The harness run on y (in memory order) and the bias, in <see cref="BiasReluKernels.Geometry"/>'s launch for an
    /// aligned map with at most <paramref name="maxBlocks"/> blocks.
    /// </summary>
    static Tensor Emulate(Tensor y, Tensor bias, bool channelsLast, bool bf16, long maxBlocks = BiasReluKernels.MaxBlocks)
    {
        var launch = BiasReluKernels.Geometry(bf16 ? y.to(bfloat16) : y, 0, maxBlocks);
        Assert.Equal(channelsLast, launch.ChannelsLast);
        if (channelsLast) Assert.Equal(0, launch.Grid.X * (long)launch.Block % launch.Inner);   // each thread keeps its channel
        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "y", Memory(y, channelsLast));
        CudaEmulation.Write(dir, "b", bias);
        object[] args =
            [dir, channelsLast ? 1 : 0, launch.Vec, launch.Grid.X, launch.Grid.Y, launch.Block, launch.Units, launch.Inner, launch.Channels];
        CudaEmulation.Run("bias_relu_harness", bf16 ? [.. args, "bf16"] : args);
        return CudaEmulation.Read(dir, "y.out", y.numel());
    }
}
