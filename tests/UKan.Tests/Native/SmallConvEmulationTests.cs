using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The small 3 × 3 convolution kernels (Native/Kernels/small_conv.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/small_conv_harness.cpp, in the geometry of <see cref="SmallConvKernels"/>, mma.sync emulated with the PTX
/// fragment layouts) against <see cref="FusedConv3x3.Torch"/> in float64 on the same TF32-rounded inputs: forward with
/// and without bias, the input gradient (the flipped, transposed weight), and the weight gradient's per-block partials
/// and their merge, at the borders of the map, with rows that are not a whole number of a warp's pixels, several
/// strips per warp and several blocks of partials. A wrong fragment layout or index moves whole products, far beyond the
/// float rounding the bound allows. (<c>ukan selftest --device cuda</c> checks them on a GPU against float64.)
/// </summary>
public class SmallConvEmulationTests
{
    [Theory]
    [InlineData(16, 16, 2, 5, 37, true)]
    [InlineData(16, 32, 1, 4, 20, true)]
    [InlineData(32, 16, 2, 3, 9, false)]
    [InlineData(32, 32, 1, 3, 3, false)]
    [InlineData(8, 8, 3, 2, 40, false)]
    [InlineData(8, 32, 1, 1, 1, false)]
    [InlineData(32, 8, 2, 6, 7, true)]
    [InlineData(16, 8, 1, 1, 70, false)]
    [InlineData(8, 16, 2, 4, 16, false)]
    [InlineData(8, 8, 1, 20, 64, false)]
    public void The_kernels_compute_the_convolution_and_its_gradients(int cin, int cout, int n, int h, int w, bool withBias) =>
        Check(cin, cout, n, h, w, withBias, byRows: false);

    /// <summary>
    /// The weight gradient with a warp per kernel row (conv3x3_weight_rows_*: the taps dw = ±1 from the neighbouring
    /// lanes' values and one extra pixel at each end of a chunk), every shape, rows that end mid-chunk and one-pixel rows.
    /// </summary>
    [Theory]
    [InlineData(16, 16, 2, 5, 37, false)]
    [InlineData(16, 32, 1, 4, 20, false)]
    [InlineData(32, 16, 2, 3, 9, false)]
    [InlineData(32, 32, 1, 3, 3, false)]
    [InlineData(8, 8, 3, 2, 40, false)]
    [InlineData(8, 32, 1, 1, 1, false)]
    [InlineData(32, 8, 2, 6, 7, false)]
    [InlineData(16, 8, 1, 1, 70, false)]
    [InlineData(8, 16, 2, 4, 16, false)]
    public void The_row_warps_compute_the_weight_gradient(int cin, int cout, int n, int h, int w, bool withBias) =>
        Check(cin, cout, n, h, w, withBias, byRows: true);

    /// <summary>
    /// The forward with its output's batch statistics (conv3x3_forward_stats_*): the same y bit for bit, and the blocks'
    /// (count, mean, M2) merged give y's mean and biased variance; with a block size other than the default and with
    /// warps (and lanes) that see no pixel (a one-pixel-wide map).
    /// </summary>
    [Theory]
    [InlineData(16, 16, 2, 5, 37, 0)]
    [InlineData(32, 32, 1, 6, 20, 0)]
    [InlineData(16, 32, 2, 3, 9, 0)]
    [InlineData(32, 16, 1, 3, 1, 0)]
    [InlineData(8, 8, 3, 2, 40, 128)]
    [InlineData(8, 32, 1, 9, 70, 512)]
    public void The_forward_forms_the_statistics_of_its_output(int cin, int cout, int n, int h, int w, int threads) =>
        Check(cin, cout, n, h, w, false, byRows: true, statsThreads: threads == 0 ? SmallConvKernels.StatsBlock : threads);

    static void Check(int cin, int cout, int n, int h, int w, bool withBias, bool byRows, int statsThreads = 0)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var (dir, x, weight, bias, gy) = CudaEmulation.ConvCase(41, cin, cout, n, h, w, withBias, weightScale: 0.2);
        Assert.False(FusedConv3x3.Tf32Rounded(x).eq(x.to(float64)).all().item<bool>(), "the data must have bits below TF32's");

        // One multiprocessor: at most 4 blocks forward (warps take several strips) and 2 or 6 blocks of weight partials.
        int rowBlock = byRows ? SmallConvKernels.RowBlock(cin, cout) : 0;
        Assert.True(!byRows || rowBlock > 0, "every shape has a row-warp kernel");
        var (wBlocks, rowsPerBlock) = SmallConvKernels.WeightGrid(n, h, cin, cout, multiprocessors: 1, rowBlock: rowBlock);
        Assert.True(n * h < 4 || wBlocks > 1, "the test must merge several blocks' partials");
        var fBlocks = SmallConvKernels.ForwardGrid(n, h, w, multiprocessors: 1);
        Assert.True(n * h * ((w + 31) / 32) <= fBlocks * (SmallConvKernels.ForwardBlock / 32) || fBlocks == 4, "more strips than warps: the warps take several in turn");
        var (mergeBlocks, mergeLanes) = PartialSums.Geometry(wBlocks, 9 * cin * cout);
        CudaEmulation.Run("small_conv_harness", [dir, cin, cout, n, h, w, fBlocks, SmallConvKernels.ForwardBlock, fBlocks,
            wBlocks, rowsPerBlock, byRows ? rowBlock : SmallConvKernels.WeightBlock, mergeBlocks, mergeLanes,
            .. bias is null ? Array.Empty<object>() : ["bias"], .. byRows ? new object[] { "rows" } : [],
            .. statsThreads > 0 ? new object[] { "stats", StatsBlocks(n, h, w, statsThreads), statsThreads } : []]);

        var reference = FusedConv3x3.Torch.Instance;
        var (x64, w64, g64, b64) = (FusedConv3x3.Tf32Rounded(x), FusedConv3x3.Tf32Rounded(weight), FusedConv3x3.Tf32Rounded(gy), bias?.to(float64));
        Tensor Read(string name, long c) => CudaEmulation.Read(dir, name, n, h, w, c).permute(0, 3, 1, 2);
        CudaEmulation.AssertNear(reference.Conv3x3(x64, w64, b64), Read("y", cout), "y");
        CudaEmulation.AssertNear(reference.Conv3x3BackwardInput(g64, w64, 1), Read("gx", cin), "dL/dx");
        CudaEmulation.AssertNear(reference.Conv3x3BackwardWeight(x64, g64, w64), CudaEmulation.Read(dir, "gw", cout, 3, 3, cin).permute(0, 3, 1, 2), "dL/dw");
        if (statsThreads == 0) return;

        var y = Read("y", cout);
        Assert.True(Read("ys", cout).eq(y).all().item<bool>(), "the forward with statistics must write the same y");
        var blocks = StatsBlocks(n, h, w, statsThreads);
        var statistics = CudaEmulation.Read(dir, "stats", 3 * blocks * cout);
        Assert.Equal((double)n * h * w, statistics.view(blocks, 3, cout).select(1, 0).to(float64).sum(0L).min().item<double>());
        var (mean, variance) = BatchNormRelu.Torch.Merged(statistics, cout);
        var y64 = y.to(float64);
        var expectedMean = y64.mean([0, 2, 3]);
        var expectedVariance = (y64 - expectedMean.view(1, -1, 1, 1)).square().mean([0, 2, 3]);
        var scale = expectedVariance.sqrt().max().item<double>();
        Assert.True((mean.to(float64) - expectedMean).abs().max().item<double>() <= 1e-5 * scale, "mean");
        Assert.True(((variance.to(float64) - expectedVariance).abs() / expectedVariance).max().item<double>() <= 1e-4, "variance");
    }

    /// <summary>The forward-with-statistics grid on the emulation's one multiprocessor for <paramref name="threads"/> a block.</summary>
    static long StatsBlocks(int n, int h, int w, int threads) => SmallConvKernels.ForwardGrid(n, h, w, multiprocessors: 1, block: threads);

    [Fact]
    public void The_geometry_covers_a_u_kan_map()
    {
        // 16 → 16 at 256² in batch 8: 16,384 strips of 32 pixels, 8 warps a block, at most 4 blocks per multiprocessor.
        Assert.Equal(256, SmallConvKernels.ForwardBlock);
        Assert.Equal(528u, SmallConvKernels.ForwardGrid(8, 256, 256, 132));
        Assert.Equal(1u, SmallConvKernels.ForwardGrid(1, 3, 33, 132));           // 6 strips: 2 warps of the block idle
        Assert.Equal(2u, SmallConvKernels.ForwardGrid(1, 5, 33, 132));           // 10 strips: two blocks
        // Warps per kernel row: one (3 a block) where three taps' accumulators fit, two for 32 → 32 (6 a block); 24
        // warps a multiprocessor, so 16 → 16 in runs of 2 rows (1,056 blocks wanted), 32 → 32 in runs of 4 (528).
        Assert.Equal(96, SmallConvKernels.RowBlock(16, 16));
        Assert.Equal(96, SmallConvKernels.RowBlock(8, 32));
        Assert.Equal(192, SmallConvKernels.RowBlock(32, 32));
        Assert.Equal((1024, 2), SmallConvKernels.WeightGrid(8, 256, 16, 16, 132, rowBlock: 96));
        Assert.Equal((512, 4), SmallConvKernels.WeightGrid(8, 256, 32, 32, 132, rowBlock: 192));
        // The weight gradient on an H200 (132 multiprocessors): 2,048 image rows in runs of 3 (16 → 16: 792 blocks
        // wanted) or 8 (32 → 32: 264 wanted).
        Assert.Equal((683, 3), SmallConvKernels.WeightGrid(8, 256, 16, 16, 132));
        Assert.Equal((256, 8), SmallConvKernels.WeightGrid(8, 256, 32, 32, 132));
        Assert.Equal(0, SmallConvKernels.WeightGrid(0, 256, 16, 16, 132).Blocks);
        // Capped at the blocks a multiprocessor holds (one wave): 16 → 16 with five resident, 660 blocks at most,
        // so runs of 4 rows (512 blocks) instead of 683 blocks of 3 rows; the forward's four are under its cap of seven.
        Assert.Equal((512, 4), SmallConvKernels.WeightGrid(8, 256, 16, 16, 132, residentPerSm: 5));
        Assert.Equal((256, 8), SmallConvKernels.WeightGrid(8, 256, 32, 32, 132, residentPerSm: 2));
        Assert.Equal(528u, SmallConvKernels.ForwardGrid(8, 256, 256, 132, residentPerSm: 7));
        Assert.Equal(396u, SmallConvKernels.ForwardGrid(8, 256, 256, 132, residentPerSm: 3));
    }

    [Fact]
    public void The_shapes_and_their_entries_agree()
    {
        var declared = Expand(FusedCudaKernels.Source);
        foreach (var name in SmallConvKernels.Functions)
            Assert.Contains($"void {name}(", declared);
        Assert.Equal(5 * 9, SmallConvKernels.Functions.Length);
        Assert.True(SmallConvKernels.Supports(16, 32));
        Assert.False(SmallConvKernels.Supports(3, 16));
        Assert.False(SmallConvKernels.Supports(64, 64));
    }

    /// <summary>The entry names the source's CONV3X3_ENTRIES lines declare, spelled out as the preprocessor would.</summary>
    static string Expand(string source)
    {
        var names = new System.Text.StringBuilder(source);
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(source, @"^CONV3X3_ENTRIES\((\d+), (\d+)\)",
                     System.Text.RegularExpressions.RegexOptions.Multiline))
        {
            var (ci, co) = (m.Groups[1].Value, m.Groups[2].Value);
            names.Append($"\nvoid conv3x3_forward_{ci}_{co}(\nvoid conv3x3_input_grad_{ci}_{co}(\nvoid conv3x3_weight_partial_{ci}_{co}(");
            names.Append($"\nvoid conv3x3_weight_rows_{ci}_{co}(\nvoid conv3x3_forward_stats_{ci}_{co}(");
        }
        return names.ToString();
    }
}
