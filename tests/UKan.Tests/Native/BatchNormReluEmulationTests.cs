using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The batch norm + ReLU CUDA kernels (Native/Kernels/batch_norm_relu.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/bn_relu_harness.cpp: the order and geometry of <see cref="BatchNormReluKernels"/>) against
/// <see cref="BatchNormRelu.Torch"/>: the kernels' indexing, per-block reductions, merges and formulas are checked
/// without a GPU. (<c>ukan selftest --device cuda</c> checks them on one.)
/// </summary>
public class BatchNormReluEmulationTests
{
    /// <summary>
    /// Shapes: a partial tile of 32 channels and few rows; two tiles; 48 blocks down the rows (the merges run two
    /// warps per channel); 288 blocks down (more partials than the merges' 256 threads, so their strided loop runs).
    /// </summary>
    [Theory]
    [InlineData(2, 37, 9, 7, false, false)]
    [InlineData(4, 64, 16, 16, true, false)]     // a convolution's bias left out before it, added in the running mean's update
    [InlineData(6, 32, 16, 16, false, false)]
    [InlineData(9, 3, 32, 32, true, false)]
    [InlineData(2, 37, 9, 7, false, true)]       // a residual added to the output (the KAN blocks' x + layer(norm(x)))
    [InlineData(6, 32, 16, 16, true, true)]
    public void The_kernels_compute_the_torch_formulation(int n, int c, int h, int w, bool shifted, bool residual)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(17);
        var nhwc = randn(n, h, w, c, generator: gen) * 1.7 + 0.4;
        var x = nhwc.permute(0, 3, 1, 2);                                    // channels-last (N, C, H, W)
        var dy = randn(n, h, w, c, generator: gen).permute(0, 3, 1, 2);
        var weight = linspace(0.5, 1.5, c);
        var bias = linspace(-0.3, 0.4, c);
        var runningMean = linspace(-0.1, 0.1, c);
        var runningVar = linspace(0.8, 1.2, c);
        var shift = shifted ? linspace(-2.0, 3.0, c) : null;
        const double eps = 1e-5, momentum = 0.1;
        var (rows, channels, grid) = BatchNormReluKernels.Geometry(x);

        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "x", nhwc);
        CudaEmulation.Write(dir, "dy", dy.permute(0, 2, 3, 1));
        CudaEmulation.Write(dir, "w", weight);
        CudaEmulation.Write(dir, "b", bias);
        CudaEmulation.Write(dir, "running_mean", runningMean);
        CudaEmulation.Write(dir, "running_var", runningVar);
        if (shift is not null) CudaEmulation.Write(dir, "mean_shift", shift);
        var res = residual ? (randn(n, h, w, c, generator: gen) * 3).permute(0, 3, 1, 2) : null;
        if (res is not null) CudaEmulation.Write(dir, "residual", res.permute(0, 2, 3, 1));
        CudaEmulation.Run("bn_relu_harness", dir, rows, channels, grid.X, grid.Y, BatchNormReluKernels.MergeThreads(grid.Y),
            CudaEmulation.Text(eps), CudaEmulation.Text(momentum));

        var reference = BatchNormRelu.Torch.Instance;
        var (rm, rv) = (runningMean.clone(), runningVar.clone());
        var (y, mean, invstd) = reference.BatchNormReluForward(x, weight, bias, rm, rv, null, momentum, eps, shift, residual: res);
        if (res is not null)   // the residual must show in the output (relu's zeros are not zero any more)
            Assert.True(y.lt(0).any().item<bool>(), "the residual must show");
        var (dx, dw, db) = reference.BatchNormReluBackward(x, dy, mean, invstd, weight, bias);
        if (shift is not null)   // the shift moves the running mean by momentum × shift, far beyond the bound
            Assert.False(rm.allclose(runningMean * (1 - momentum) + mean * momentum, 1e-3, 1e-3), "the shift must show");
        TestTorch.AssertClose(mean, CudaEmulation.Read(dir, "mean", c), 1e-6, 1e-5, "mean");
        TestTorch.AssertClose(invstd, CudaEmulation.Read(dir, "invstd", c), 1e-6, 1e-5, "invstd");
        TestTorch.AssertClose(rm, CudaEmulation.Read(dir, "running_mean.out", c), 1e-6, 1e-5, "running mean");
        TestTorch.AssertClose(rv, CudaEmulation.Read(dir, "running_var.out", c), 1e-6, 1e-5, "running variance");
        TestTorch.AssertClose(y.permute(0, 2, 3, 1), CudaEmulation.Read(dir, "y", n, h, w, c), 1e-5, 1e-5, "output");
        TestTorch.AssertClose(dx.permute(0, 2, 3, 1), CudaEmulation.Read(dir, "dx", n, h, w, c), 1e-5, 1e-4, "dx");
        TestTorch.AssertClose(dw!, CudaEmulation.Read(dir, "dw", c), 1e-5, 1e-4, "dw");
        TestTorch.AssertClose(db!, CudaEmulation.Read(dir, "db", c), 1e-5, 1e-4, "db");
        Assert.Equal(8f, CudaEmulation.Read(dir, "batches", 1).item<float>());   // counted once, in the statistics merge
    }

    /// <summary>
    /// The bfloat16 entries (bf16 autocast hands the batch norm bf16 maps): x and dy stored as bf16, statistics and sums
    /// in float, y and dx rounded once. Against the torch formulation in float32 on the same (bf16) values: the
    /// statistics as closely as in float32, y and dx within half a bf16 step. Two tiles of channels, and one partial.
    /// </summary>
    [Theory]
    [InlineData(4, 64, 16, 16)]
    [InlineData(2, 37, 9, 7)]
    public void The_bf16_entries_round_the_float_computation_once(int n, int c, int h, int w)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(19);
        var nhwc = (randn(n, h, w, c, generator: gen) * 1.7 + 0.4).to(bfloat16).to(float32);   // values bf16 holds
        var dyNhwc = randn(n, h, w, c, generator: gen).to(bfloat16).to(float32);
        var (x, dy) = (nhwc.permute(0, 3, 1, 2), dyNhwc.permute(0, 3, 1, 2));
        var weight = linspace(0.5, 1.5, c);
        var bias = linspace(-0.3, 0.4, c);
        const double eps = 1e-5, momentum = 0.1;
        var (rows, channels, grid) = BatchNormReluKernels.Geometry(x.to(bfloat16));
        Assert.Equal(BatchNormReluKernels.Geometry(x), (rows, channels, grid));     // one geometry for both storage types

        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "x", nhwc);
        CudaEmulation.Write(dir, "dy", dyNhwc);
        CudaEmulation.Write(dir, "w", weight);
        CudaEmulation.Write(dir, "b", bias);
        CudaEmulation.Write(dir, "running_mean", zeros(c));
        CudaEmulation.Write(dir, "running_var", ones(c));
        CudaEmulation.Run("bn_relu_harness", dir, rows, channels, grid.X, grid.Y, BatchNormReluKernels.MergeThreads(grid.Y),
            CudaEmulation.Text(eps), CudaEmulation.Text(momentum), "bf16");

        var reference = BatchNormRelu.Torch.Instance;
        var (y, mean, invstd) = reference.BatchNormReluForward(x, weight, bias, zeros(c), ones(c), null, momentum, eps);
        var (dx, dw, db) = reference.BatchNormReluBackward(x, dy, mean, invstd, weight, bias);
        TestTorch.AssertClose(mean, CudaEmulation.Read(dir, "mean", c), 1e-6, 1e-5, "mean");
        TestTorch.AssertClose(invstd, CudaEmulation.Read(dir, "invstd", c), 1e-6, 1e-5, "invstd");
        TestTorch.AssertRoundedToBf16(y.permute(0, 2, 3, 1), CudaEmulation.Read(dir, "y", n, h, w, c), 1e-6, "output");
        TestTorch.AssertRoundedToBf16(dx.permute(0, 2, 3, 1), CudaEmulation.Read(dir, "dx", n, h, w, c), 1e-5, "dx");
        TestTorch.AssertClose(dw!, CudaEmulation.Read(dir, "dw", c), 1e-5, 1e-4, "dw");
        TestTorch.AssertClose(db!, CudaEmulation.Read(dir, "db", c), 1e-5, 1e-4, "db");
    }
}
