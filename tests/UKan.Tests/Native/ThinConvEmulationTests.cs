using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The thin-input kernels (Native/Kernels/thin_conv.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/thin_conv_harness.cpp, in the geometry of <see cref="ThinConvKernels"/>, the weight gradient then the
/// partial sums' merge) against <see cref="FusedConv3x3.Torch"/>'s forward (with and without bias) and weight gradient in
/// float64: every input channel count, the three output counts, maps wider than one chunk of columns (the window's right
/// edge from the next chunk), one-row images (both neighbour rows off the map), more rows than blocks (runs of several
/// rows) and more forward items than blocks (blocks taking several in turn). A wrong tap, channel or border moves
/// whole terms, far beyond float rounding. (<c>ukan selftest --device cuda</c> checks them on a GPU.)
/// </summary>
public class ThinConvEmulationTests
{
    [Theory]
    [InlineData(3, 16, 2, 5, 150, true)]    // two chunks of columns (128 + 22)
    [InlineData(1, 8, 1, 1, 9, false)]      // one row: both neighbour rows off the map
    [InlineData(4, 32, 3, 4, 130, true)]    // the right edge one column past a chunk
    [InlineData(2, 16, 1, 6, 33, false)]
    [InlineData(3, 8, 2, 3, 128, true)]     // exactly one chunk
    [InlineData(1, 32, 1, 7, 3, false)]
    public void The_kernels_compute_the_convolution_and_its_weight_gradient(int cin, int cout, int n, int h, int w, bool withBias)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var (dir, x, weight, bias, gy) = CudaEmulation.ConvCase(17, cin, cout, n, h, w, withBias, weightScale: 0.3);
        // One multiprocessor: at most 8 blocks, so that the larger maps give each block a run of several rows.
        var (blocks, rowsPerBlock) = ThinConvKernels.Grid(n, h, multiprocessors: 1);
        Assert.True(n * h <= 8 || rowsPerBlock > 1, "the test must give blocks several rows");
        var fBlocks = ThinConvKernels.ForwardGrid(n, h, w, multiprocessors: 1);
        Assert.True(n * h * ((w + 127) / 128) <= 8 || fBlocks == 8, "more items than blocks: the blocks take several in turn");
        var (mergeBlocks, mergeLanes) = PartialSums.Geometry(blocks, 9 * cin * cout);
        CudaEmulation.Run("thin_conv_harness", [dir, cin, cout, n, h, w, fBlocks, blocks, rowsPerBlock, ThinConvKernels.Block, mergeBlocks,
            mergeLanes, .. bias is null ? Array.Empty<object>() : ["bias"]]);

        var reference = FusedConv3x3.Torch.Instance;
        var (x64, w64, g64) = (x.to(float64), weight.to(float64), gy.to(float64));
        CudaEmulation.AssertNear(reference.Conv3x3(x64, w64, bias?.to(float64)), CudaEmulation.Read(dir, "y", n, h, w, cout).permute(0, 3, 1, 2), "y");
        CudaEmulation.AssertNear(reference.Conv3x3BackwardWeight(x64, g64, w64), CudaEmulation.Read(dir, "gw", cout, 3, 3, cin).permute(0, 3, 1, 2), "dL/dw");
    }

    [Fact]
    public void The_geometry_covers_a_u_kan_map()
    {
        // The first layer at 256² in batch 8 on an H200 (132 multiprocessors): 2,048 image rows in runs of 2.
        Assert.Equal((1024, 2), ThinConvKernels.Grid(8, 256, 132));
        Assert.Equal((3, 1), ThinConvKernels.Grid(1, 3, 132));
        Assert.Equal(0, ThinConvKernels.Grid(0, 256, 132).Blocks);
        // The forward: 2,048 rows of two 128-column chunks, at most 8 blocks per multiprocessor.
        Assert.Equal(1056u, ThinConvKernels.ForwardGrid(8, 256, 256, 132));
        Assert.Equal(3u, ThinConvKernels.ForwardGrid(1, 3, 100, 132));
    }

    [Fact]
    public void The_shapes_and_their_entries_agree()
    {
        foreach (var (i, o) in ThinConvKernels.Shapes)
            Assert.Contains($"CONV3X3_THIN_ENTRY({i}, {o})", FusedCudaKernels.Source);
        Assert.Equal(2 * 12, ThinConvKernels.Functions.Length);
        Assert.True(ThinConvKernels.Supports(3, 16));
        Assert.False(ThinConvKernels.Supports(8, 16));
        Assert.False(ThinConvKernels.Supports(3, 64));
    }
}
