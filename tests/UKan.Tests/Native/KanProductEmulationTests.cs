using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The KAN product kernels (Native/Kernels/kan_product.cu) run on the CPU under the CUDA emulation, in the geometry of
/// <see cref="KanProductKernels"/>: each layout with leading dimensions wider than the operands, sizes that are not
/// whole tiles (rows and columns past the edge loaded as zeros, not stored) and the reduction split in slices (the last one
/// shorter where they do not divide it) merged by
/// partial_sums.cu, against the float64 product. On a GPU, <c>ukan selftest</c> checks them too.
/// </summary>
public class KanProductEmulationTests
{
    [Theory]
    [InlineData("nt", 64, 64, 76, 140, 48, 1, 4, 4)]      // y = F·Wᵀ: 2 × 3 tiles, both edges partial
    [InlineData("tn", 128, 64, 68, 132, 64, 2, 8, 4)]     // dW = dyᵀ·F in 2 slices of 32
    [InlineData("nn", 64, 128, 36, 200, 48, 3, 0, 8)]     // dF = dy·W in 3 slices of 16
    [InlineData("nt", 128, 128, 132, 68, 16, 1, 0, 0)]    // 256 threads, a single step
    [InlineData("tn", 64, 64, 64, 64, 128, 4, 0, 0)]      // whole tiles, 4 slices of 4 steps
    [InlineData("nt", 64, 128, 40, 72, 56, 3, 4, 0)]      // 7 steps in 3 slices: 3, 3 and 1
    [InlineData("nt", 128, 32, 132, 160, 40, 2, 0, 4)]    // 32 wide, 4 columns a thread: 2 x 5 tiles
    [InlineData("tn", 64, 32, 36, 68, 64, 1, 4, 0)]       // 64 threads: each loads A's 128 vectors twice, B's 64 once
    [InlineData("nn", 128, 32, 64, 32, 24, 1, 0, 0)]
    public void The_kernels_compute_the_product(string layout, int bm, int bn, int m, int n, int k, int splits, int padA, int padB) =>
        Check(new KanProductTile(bm, bn), layout, m, n, k, splits, padA, padB);

    /// <summary>
    /// The tensor-core kernels (kan_product_tf32x3.cu, 3xTF32 under the emulated mma.sync) likewise, within 1e-5 of the
    /// largest value: the split into high and low TF32 parts must keep float32 accuracy (one TF32 product is off by
    /// about 1e-3). Steps of 32; more steps than the ring of 4 buffers holds, so that buffers are reused.
    /// </summary>
    [Theory]
    [InlineData("nt", 64, 64, 76, 140, 224, 1, 4, 4)]     // 2 × 3 tiles, both edges partial, 7 steps
    [InlineData("tn", 128, 64, 68, 132, 192, 2, 8, 4)]    // 128 threads, 2 slices of 3 steps
    [InlineData("nn", 64, 128, 36, 200, 96, 3, 0, 8)]     // 3 slices of one step
    [InlineData("nt", 128, 128, 132, 68, 160, 1, 0, 0)]   // 256 threads, warps of 64 rows, 5 steps
    [InlineData("tn", 64, 32, 36, 68, 320, 2, 4, 0)]      // 64 threads, 5 steps a slice
    [InlineData("nn", 128, 32, 64, 160, 64, 1, 0, 4)]     // 160 = 5 × 32 columns
    public void The_tensor_core_kernels_compute_the_product_at_float32_accuracy(string layout, int bm, int bn, int m, int n, int k, int splits, int padA, int padB) =>
        Check(new KanProductTile(bm, bn, Tf32x3: true), layout, m, n, k, splits, padA, padB);

    static void Check(KanProductTile tile, string layout, int m, int n, int k, int splits, int padA, int padB)
    {
        var (bm, bn) = (tile.Rows, tile.Columns);
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(17);
        var (a, b) = (randn(m, k, generator: gen), randn(k, n, generator: gen));
        // The stored matrix (row-major, padded rows) and its leading dimension: a row-major a is M × lda, a transposed one K × lda.
        var storedA = layout[0] == 'n' ? a : a.t();
        var storedB = layout[1] == 'n' ? b : b.t();
        var (lda, ldb) = (storedA.shape[1] + padA, storedB.shape[1] + padB);
        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "a", nn.functional.pad(storedA, [0, padA], value: float.NaN));   // padding never read
        CudaEmulation.Write(dir, "b", nn.functional.pad(storedB, [0, padB], value: float.NaN));
        var (mergeBlocks, mergeLanes) = PartialSums.Geometry(splits, (long)m * n);
        Assert.Equal(((m + bm - 1) / bm) * ((n + bn - 1) / bn), (int)KanProductKernels.Tiles(m, n, tile));
        var slice = KanProductKernels.Slice(k, splits, tile.Step);
        Assert.True((splits - 1) * slice < k && splits * slice >= k && slice % tile.Step == 0, "every slice non-empty, all of K covered");
        var (kind, shared) = tile.Tf32x3 ? ("tf32x3", KanProductKernels.Tf32x3SharedBytes(tile, layout)) : ("fp32", 0);
        CudaEmulation.Run("kan_product_harness",
            [dir, kind, layout, bm, bn, tile.Threads, shared, m, n, k, splits, slice, lda, ldb, mergeBlocks, mergeLanes]);
        CudaEmulation.AssertNear(a.to(float64).matmul(b.to(float64)), CudaEmulation.Read(dir, "c", m, n), $"{layout} {tile} in {splits}");
    }

    /// <summary>
    /// dL/dx straight from dL/dy (kan_product_input_grad_9) against dL/dF = dL/dy · W in float64 followed by the torch
    /// formulation of the features' backward (<see cref="KanFeatures.Torch"/>): rows that are not a whole tile, several
    /// tiles of 16 inputs, x across and outside the grid (where only SiLU's slope remains).
    /// </summary>
    [Theory]
    [InlineData(70, 24, 32, false)]
    [InlineData(64, 8, 16, false)]
    [InlineData(130, 16, 48, false)]
    [InlineData(70, 32, 32, true)]     // the tensor-core kernel (3xTF32): two steps of 16
    [InlineData(130, 80, 16, true)]    // five steps, more than the ring of four buffers
    public void The_input_gradient_kernel_reduces_the_product_by_the_features_derivatives(int m, int outputs, int inputs, bool tensorCores)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(23);
        var knots = new BSplineBasis.UniformKnots(-2.2, 0.4, 8);   // U-KAN's grid: 5 intervals on [-1, 1], cubic
        var (dy, w, x) = (randn(m, outputs, generator: gen), randn(outputs, inputs * 9, generator: gen) * 0.1, randn(m, inputs, generator: gen) * 1.5);
        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "dy", dy);
        CudaEmulation.Write(dir, "w", w);
        CudaEmulation.Write(dir, "x", x);
        Assert.Equal((m + 63) / 64 * (inputs / 16), (int)KanProductKernels.InputGridX(m, inputs));
        var (kind, shared) = tensorCores ? ("tf32x3", KanProductKernels.InputGradTf32x3SharedBytes) : ("fp32", 0);
        CudaEmulation.Run("kan_input_grad_harness",
            [dir, kind, shared, m, outputs, inputs, CudaEmulation.Text(knots.First), CudaEmulation.Text(1.0 / knots.Step)]);
        var expected = KanFeatures.Torch.Instance.BackwardInput(x.to(float64), dy.to(float64).matmul(w.to(float64)), knots);
        Assert.True((x.abs() > 2.2).any().item<bool>(), "some x must lie outside the grid");
        CudaEmulation.AssertNear(expected, CudaEmulation.Read(dir, "gx", m, inputs), "dL/dx", 1e-5);
    }

    [Fact]
    public void Every_tile_has_an_entry_per_layout()
    {
        var functions = KanProductKernels.Functions;
        Assert.Equal(KanProductTiles.All.Length * 6 + 2, functions.Length);
        var source = NativeSources.ReadKernel("kan_product.cu");
        foreach (var tile in KanProductTiles.All)
        {
            Assert.Contains($"KAN_PRODUCT_LAYOUTS({tile.Rows}, {tile.Columns}, {tile.ColumnsPerThread}, {tile.Threads}, {512 / tile.Threads})", source);
            Assert.True(tile.Threads is >= 64 and <= 256 && tile.Columns / tile.ColumnsPerThread % 8 == 0, $"{tile}: a warp spans 8 threads' columns");
        }
        var tensorCores = NativeSources.ReadKernel("kan_product_tf32x3.cu");
        Assert.Contains($"#define KAN_TC_STEP {KanProductKernels.Tf32x3Depth}", tensorCores);
        Assert.Contains($"#define KAN_TC_STAGES {KanProductKernels.Tf32x3Stages}", tensorCores);
        Assert.Contains($"#define KAN_TC_GRAD_STEP {KanProductKernels.InputGradDepth}", tensorCores);
        Assert.Contains($"#define KAN_TC_GRAD_STAGES {KanProductKernels.InputGradStages}", tensorCores);
        Assert.Contains("#define KAN_TC_SM_THREADS 256", tensorCores);
        foreach (var tile in KanProductTiles.Tf32x3)
        {
            Assert.Contains($"KAN_TC_LAYOUTS({tile.Rows}, {tile.Columns}, {tile.WarpRows}, {tile.Threads})", tensorCores);
            // 256 threads' registers a multiprocessor; those blocks' buffers within an H200's 228 KiB (1 KiB each reserved).
            foreach (var layout in new[] { "nt", "tn", "nn" })
                Assert.True(tile.Threads is >= 64 and <= 256 && 256 / tile.Threads * (KanProductKernels.Tf32x3SharedBytes(tile, layout) + 1024) <= 228 * 1024, $"{tile} {layout}");
        }
    }

    [Fact]
    public void The_layout_follows_the_strides()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var (f, w, dy) = (zeros(32, 72), zeros(16, 72), zeros(32, 16));
        Assert.Equal(("nt", 72L, 72L), KanProductKernels.Layout(f, w.t()));      // y = F·Wᵀ
        Assert.Equal(("tn", 16L, 72L), KanProductKernels.Layout(dy.t(), f));     // dW = dyᵀ·F
        Assert.Equal(("nn", 16L, 72L), KanProductKernels.Layout(dy, w));         // dF = dy·W
        Assert.Null(KanProductKernels.Layout(f.t(), dy.t()));                     // both transposed: no entry
        Assert.Null(KanProductKernels.Layout(zeros(8, 8, 2).select(2, 0), w));    // neither stride 1
    }
}
