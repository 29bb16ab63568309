using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The LayerNorm CUDA kernels (Native/Kernels/layer_norm.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/layer_norm_harness.cpp: the geometry of <see cref="LayerNormKernels"/>) against
/// <see cref="FusedLayerNorm.Torch"/>: the warp-per-row reductions, the per-block sums of the weight's and bias's
/// gradients and their merge are checked without a GPU. (<c>ukan selftest --device cuda</c> checks them on one.)
/// </summary>
public class LayerNormEmulationTests
{
    /// <summary>
    /// Widths: U-KAN's 160 (five values per lane, the last partly empty), 37 (two), 512 (the widest: sixteen); rows
    /// that leave the last block partly empty, and 1,100 rows (more warps' worth than the backward's 128 blocks hold:
    /// warps take several rows). With an input bias (the patch embedding's, added as x is loaded; a third partial sum
    /// per block for its gradient), also at the widest rows, whose three sums per warp fill the 48 KiB of shared memory.
    /// </summary>
    [Theory]
    [InlineData(77, 160, false, false)]
    [InlineData(45, 37, false, false)]
    [InlineData(19, 512, false, false)]
    [InlineData(1100, 32, false, false)]
    [InlineData(77, 160, true, false)]
    [InlineData(1100, 160, false, true)]
    [InlineData(19, 512, false, true)]
    [InlineData(77, 160, true, true)]
    public void The_kernels_compute_the_torch_formulation(int rows, int c, bool bf16, bool inputBias)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(41);
        var x = randn(rows, c, generator: gen) * 1.5 + 0.3;
        if (bf16) x = x.to(bfloat16).to(float32);                                   // values bf16 holds
        var g = randn(rows, c, generator: gen);
        var w = linspace(0.5, 1.5, c);
        var b = linspace(-0.3, 0.4, c);
        const double eps = 1e-5;
        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "x", x);
        CudaEmulation.Write(dir, "g", g);
        CudaEmulation.Write(dir, "w", w);
        CudaEmulation.Write(dir, "b", b);
        var ib = inputBias ? linspace(-2.0, 1.0, c) : null;
        if (ib is not null) CudaEmulation.Write(dir, "ib", ib);
        var args = new List<object> { dir, rows, c, CudaEmulation.Text(eps), LayerNormKernels.Threads, LayerNormKernels.ForwardBlocks(rows),
            LayerNormKernels.BackwardBlocks(rows), LayerNormKernels.SharedBytes(c, inputBias ? 3 : 2) };
        if (bf16) args.Add("bf16");
        CudaEmulation.Run("layer_norm_harness", [.. args]);

        var reference = FusedLayerNorm.Torch.Instance;
        var (y, mean, rstd) = reference.LayerNormForward(x, w, b, eps, ib);
        var dib = ib is null ? null : empty(c);
        var (dx, dw, db) = reference.LayerNormBackward(x, g, mean, rstd, w, ib, dib);
        TestTorch.AssertClose(mean, CudaEmulation.Read(dir, "mean", rows), 1e-6, 1e-5, "mean");
        TestTorch.AssertClose(rstd, CudaEmulation.Read(dir, "rstd", rows), 1e-6, 1e-5, "rstd");
        TestTorch.AssertClose(y, CudaEmulation.Read(dir, "y", rows, c), 1e-5, 1e-5, "output");
        if (bf16)
            TestTorch.AssertRoundedToBf16(dx, CudaEmulation.Read(dir, "dx", rows, c), 1e-5, "dx");
        else
            TestTorch.AssertClose(dx, CudaEmulation.Read(dir, "dx", rows, c), 1e-5, 1e-4, "dx");
        TestTorch.AssertClose(dw, CudaEmulation.Read(dir, "dw", c), 1e-4, 1e-4, "dw");
        TestTorch.AssertClose(db, CudaEmulation.Read(dir, "db", c), 1e-4, 1e-4, "db");
        if (dib is not null) TestTorch.AssertClose(dib, CudaEmulation.Read(dir, "dib", c), 1e-4, 1e-4, "d(input bias)");
    }
}
