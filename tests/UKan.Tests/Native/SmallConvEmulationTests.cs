using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The small 3 × 3 convolution kernels (Native/Kernels/small_conv.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/small_conv_harness.cpp, in the geometry of <see cref="SmallConvKernels"/>) against
/// <see cref="FusedConv3x3.Torch"/> in float64: forward with and without bias, the input gradient (the flipped,
/// transposed weight), and the weight gradient's per-block partials and their merge, at the borders of the map, with
/// rows that are not a whole number of a thread's pixels and with several blocks of partials.
/// (<c>ukan selftest --device cuda</c> checks them on a GPU.)
/// </summary>
public class SmallConvEmulationTests
{
    [Theory]
    [InlineData(3, 16, 2, 5, 7, true)]
    [InlineData(16, 16, 2, 6, 9, false)]
    [InlineData(16, 32, 1, 4, 5, true)]
    [InlineData(32, 16, 2, 3, 6, false)]
    [InlineData(32, 32, 1, 3, 3, false)]
    [InlineData(3, 32, 1, 1, 1, false)]
    [InlineData(16, 16, 3, 1, 13, false)]
    [InlineData(3, 4, 2, 4, 9, true)]
    [InlineData(4, 8, 1, 5, 17, false)]
    [InlineData(8, 4, 2, 3, 10, false)]
    [InlineData(8, 8, 1, 2, 3, false)]
    [InlineData(4, 4, 1, 3, 4, false)]
    public void The_kernels_compute_the_convolution_and_its_gradients(int cin, int cout, int n, int h, int w, bool withBias)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(41);
        var x = randn(n, cin, h, w, dtype: float64, generator: gen);
        var weight = randn(cout, cin, 3, 3, dtype: float64, generator: gen) * 0.2;
        var bias = withBias ? randn(cout, dtype: float64, generator: gen) : null;
        var gy = randn(n, cout, h, w, dtype: float64, generator: gen);

        var dir = CudaEmulation.Folder();
        static Tensor Nhwc(Tensor t) => t.permute(0, 2, 3, 1);
        CudaEmulation.Write(dir, "x", Nhwc(x));
        CudaEmulation.Write(dir, "w", Nhwc(weight));
        CudaEmulation.Write(dir, "g", Nhwc(gy));
        if (bias is not null) CudaEmulation.Write(dir, "b", bias);
        // Three multiprocessors: the weight gradient then has several blocks of partials even on these small maps.
        var (wBlocks, rowsPerBlock, wThreads) = SmallConvKernels.WeightGrid(n, h, cin, cout, multiprocessors: 3);
        Assert.True(n * h < 6 || wBlocks > 1, "the test must merge several blocks' partials");
        CudaEmulation.Run("small_conv_harness", [dir, cin, cout, n, h, w, SmallConvKernels.ForwardGrid(n, h, w, cout), SmallConvKernels.ForwardBlock,
            SmallConvKernels.ForwardGrid(n, h, w, cin), wBlocks, rowsPerBlock, wThreads, .. bias is null ? Array.Empty<object>() : ["bias"]]);

        var reference = FusedConv3x3.Torch.Instance;
        Tensor Read(string name, long c) => CudaEmulation.Read(dir, name, n, h, w, c).permute(0, 3, 1, 2);
        Assert.Equal(float64, reference.Conv3x3(x, weight, bias).dtype);
        AssertNear(reference.Conv3x3(x, weight, bias), Read("y", cout), "y");
        var gw = CudaEmulation.Read(dir, "gw", cout, 3, 3, cin).permute(0, 3, 1, 2);
        AssertNear(reference.Conv3x3BackwardWeight(x, gy, weight), gw, "dL/dw");
        if (SmallConvKernels.HasInputGradient((cin, cout)))
            AssertNear(reference.Conv3x3BackwardInput(gy, weight, 1), Read("gx", cin), "dL/dx");
        else
            Assert.False(File.Exists(Path.Combine(dir, "gx")));
    }

    /// <summary>Float32 kernels against the float64 reference: within 1e-5 of the reference's largest magnitude.</summary>
    static void AssertNear(Tensor expected, Tensor actual, string what)
    {
        Assert.False(actual.isnan().any().item<bool>(), $"{what}: a value was not written");
        double scale = expected.abs().max().item<double>();
        TestTorch.AssertClose(expected, actual, 1e-5 * scale, 0, what);
    }

    [Fact]
    public void The_geometry_covers_a_u_kan_map()
    {
        // 16 → 16 at 256² in batch 8: 4 pixels a thread, 128 threads a block.
        Assert.Equal(8u * 256 * 64 / 128, SmallConvKernels.ForwardGrid(8, 256, 256, 16));
        Assert.Equal(8u * 256 * 128 / 128, SmallConvKernels.ForwardGrid(8, 256, 256, 32));
        // The weight gradient on an H200 (132 multiprocessors): 2,048 image rows in blocks of 8; 7 groups of 36 threads.
        Assert.Equal((256, 8, 252), SmallConvKernels.WeightGrid(8, 256, 16, 16, 132));
        Assert.Equal((256, 8, 144), SmallConvKernels.WeightGrid(8, 256, 32, 32, 132));
        Assert.Equal((256, 8, 243), SmallConvKernels.WeightGrid(8, 256, 3, 16, 132));
        Assert.Equal(0, SmallConvKernels.WeightGrid(0, 256, 16, 16, 132).Blocks);
    }

    [Fact]
    public void The_shapes_and_their_entries_agree()
    {
        Assert.Contains("conv3x3_weight_finalize", SmallConvKernels.Functions);
        foreach (var (i, o) in SmallConvKernels.Shapes)
        {
            Assert.Contains($"conv3x3_forward_{i}_{o}", SmallConvKernels.Functions);
            Assert.Contains($"conv3x3_weight_partial_{i}_{o}", SmallConvKernels.Functions);
            Assert.Equal(i % 4 == 0, SmallConvKernels.Functions.Contains($"conv3x3_input_grad_{i}_{o}"));
        }
        var declared = Expand(FusedCudaKernels.Source);
        foreach (var name in SmallConvKernels.Functions)
            Assert.Contains($"void {name}(", declared);
        Assert.True(SmallConvKernels.Supports(16, 32, true));
        Assert.False(SmallConvKernels.Supports(3, 16, true));
        Assert.True(SmallConvKernels.Supports(3, 16, false));
        Assert.False(SmallConvKernels.Supports(64, 64, false));
    }

    /// <summary>The entry names the source's CONV3X3_* macro lines declare, spelled out as the preprocessor would.</summary>
    static string Expand(string source)
    {
        var names = new System.Text.StringBuilder(source);
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(source, @"^CONV3X3_(ENTRIES|INPUT_GRAD)\((\d+), (\d+)\)",
                     System.Text.RegularExpressions.RegexOptions.Multiline))
        {
            var (ci, co) = (m.Groups[2].Value, m.Groups[3].Value);
            if (m.Groups[1].Value == "ENTRIES") names.Append($"\nvoid conv3x3_forward_{ci}_{co}(\nvoid conv3x3_weight_partial_{ci}_{co}(");
            else names.Append($"\nvoid conv3x3_input_grad_{ci}_{co}(");
        }
        return names.ToString();
    }
}
