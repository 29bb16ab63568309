using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The depthwise 3 × 3 convolution CUDA kernels (Native/Kernels/depthwise_conv.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/depthwise_conv_harness.cpp: the geometry of <see cref="DepthwiseConvKernels"/>) against torch's
/// <c>conv2d(x, w, padding 1, groups C)</c> and its autograd gradients in float64: the zero padding at every edge, the
/// strips' rows past the image, the vector and scalar channel paths, channel tiles, and the weight gradient's per-block
/// partials and their merge are checked without a GPU.
/// </summary>
public class DepthwiseConvEmulationTests
{
    /// <summary>
    /// Shapes (N, C, H, W), whether the maps count as 16-byte aligned (false: the scalar path at a C that allows
    /// vectors), and the cap on the weight gradient's blocks:
    /// C = 37 (scalar) with odd H and W; C = 40 (10 vector units) and the same shape scalar; H = 1; W = 1; 1 × 1
    /// images; C = 1030 (scalar, five channel tiles of 256 threads); C = 1024 (256 vector units: one lane per block);
    /// 18 groups of partials (the merge's lanes and tree) in default geometry and capped at 5 blocks (each thread then
    /// sums 3–4 strips); C = 5 with 51 lanes per block, capped at 2 blocks (up to two strips per thread, scalar).
    /// </summary>
    [Theory]
    [InlineData(2, 37, 9, 7, true, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(2, 40, 9, 10, true, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(2, 40, 9, 10, false, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(3, 8, 1, 13, true, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(2, 12, 11, 1, true, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(3, 6, 1, 1, true, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(1, 1030, 3, 2, true, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(2, 1024, 2, 3, true, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(2, 128, 16, 18, true, DepthwiseConvKernels.TargetBlocks)]
    [InlineData(2, 128, 16, 18, true, 5)]
    [InlineData(3, 5, 13, 11, true, 2)]
    public void The_kernels_compute_torch_conv2d_and_its_gradients(int n, int c, int h, int w, bool aligned, long targetBlocks)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(41);
        var xNhwc = randn(n, h, w, c, generator: gen);
        var gyNhwc = randn(n, h, w, c, generator: gen);
        var weight = randn(c, 1, 3, 3, generator: gen);
        var x = xNhwc.permute(0, 3, 1, 2);                                   // channels-last (N, C, H, W)

        var stencil = DepthwiseConvKernels.Stencil(x, aligned);
        var launch = DepthwiseConvKernels.Weight(x, aligned, targetBlocks);
        Assert.Equal(aligned && c % 4 == 0 ? 4 : 1, stencil.Vec);
        Assert.Equal(stencil.Vec, launch.Vec);
        Assert.True((long)launch.Grid.X * launch.Grid.Y <= Math.Max(targetBlocks, launch.Grid.X), "the weight gradient's grid is capped");

        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "x", xNhwc);
        CudaEmulation.Write(dir, "gy", gyNhwc);
        CudaEmulation.Write(dir, "w", weight);
        CudaEmulation.Run("depthwise_conv_harness", dir, n, h, w, c, stencil.Vec, stencil.Blocks, stencil.Block,
            launch.Grid.X, launch.Grid.Y, launch.Block.X, launch.Block.Y, launch.MergeBlocks, launch.MergeLanes);

        var (y, gx, gw) = Reference(x, weight, gyNhwc.permute(0, 3, 1, 2));
        AssertNear(y.permute(0, 2, 3, 1), CudaEmulation.Read(dir, "y", n, h, w, c), "output");
        AssertNear(gx.permute(0, 2, 3, 1), CudaEmulation.Read(dir, "gx", n, h, w, c), "dx");
        AssertNear(gw, CudaEmulation.Read(dir, "gw", c, 1, 3, 3), "dw");
    }

    /// <summary>
    /// The launches of U-KAN's depthwise layers at 256² input (8 × 128 × 32 × 32, 8 × 160 × 16 × 16), the 512² map
    /// (8 × 128 × 64 × 64) and a C past one block: a thread per strip of 4 rows and 4 channels in blocks of 128; the
    /// weight gradient one strip per thread until the 264-block cap, the merge deep enough lanes for its partials.
    /// </summary>
    [Fact]
    public void The_geometry_of_the_UKan_shapes()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        Tensor Map(int n, int c, int h, int w) => zeros(n, h, w, c).permute(0, 3, 1, 2);

        var x = Map(8, 128, 32, 32);                                    // 8 images × 8 strips × 32 columns = 2,048 strips
        Assert.Equal(new DepthwiseConvKernels.StencilLaunch(4, 2048 * 32 / 128, 128), DepthwiseConvKernels.Stencil(x, aligned: true));
        Assert.Equal(new DepthwiseConvKernels.StencilLaunch(1, 2048 * 128 / 128, 128), DepthwiseConvKernels.Stencil(x, aligned: false));
        Assert.Equal(new DepthwiseConvKernels.WeightLaunch(4, (1, 256), (32, 8), 36, 32), DepthwiseConvKernels.Weight(x, aligned: true));

        var x16 = Map(8, 160, 16, 16);                                  // 512 strips; 40 vector units × 6 lanes
        Assert.Equal(new DepthwiseConvKernels.WeightLaunch(4, (1, 86), (40, 6), 45, 16), DepthwiseConvKernels.Weight(x16, aligned: true));

        var x512 = Map(8, 128, 64, 64);                                 // 8,192 strips: capped
        Assert.Equal(new DepthwiseConvKernels.WeightLaunch(4, (1, 264), (32, 8), 36, 32), DepthwiseConvKernels.Weight(x512, aligned: true));

        var wide = Map(1, 1030, 3, 2);                                  // scalar, 1,030 units: 5 tiles of 256
        Assert.Equal(new DepthwiseConvKernels.WeightLaunch(1, (5, 2), (256, 1), 290, 1), DepthwiseConvKernels.Weight(wide, aligned: true));
    }

    /// <summary>
    /// Maps the kernels do not index (NCHW with several channels and pixels, float64, not 4-D, a strided view) and
    /// weights of another shape or dtype are refused with an ArgumentException; 1 × 1 images, where NCHW and NHWC are
    /// the same memory, are taken.
    /// </summary>
    [Fact]
    public void Inputs_the_kernels_do_not_take_are_refused()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var nhwc = zeros(2, 5, 5, 8).permute(0, 3, 1, 2);
        Assert.Equal((2L, 8L, 5L, 5L), DepthwiseConvKernels.Shape(nhwc));
        Assert.Equal((2L, 8L, 1L, 1L), DepthwiseConvKernels.Shape(zeros(2, 8, 1, 1)));
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.Shape(zeros(2, 8, 5, 5)));                                 // NCHW
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.Stencil(zeros(2, 8, 5, 5), aligned: true));
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.Weight(zeros(2, 8, 5, 5), aligned: true));
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.Shape(nhwc.to(float64)));
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.Shape(zeros(5, 5, 8)));
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.Shape(zeros(2, 5, 10, 8).permute(0, 3, 1, 2).narrow(3, 0, 5)));
        DepthwiseConvKernels.CheckWeight(zeros(8, 1, 3, 3), 8);
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.CheckWeight(zeros(8, 1, 5, 5), 8));
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.CheckWeight(zeros(8, 3, 3), 8));
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.CheckWeight(zeros(4, 1, 3, 3), 8));
        Assert.Throws<ArgumentException>(() => DepthwiseConvKernels.CheckWeight(zeros(8, 1, 3, 3, dtype: float64), 8));
    }

    /// <summary>y = conv2d(x, w, padding 1, groups C) and dL/dx, dL/dw for dL/dy = <paramref name="gy"/>, by torch in float64.</summary>
    static (Tensor Y, Tensor GradX, Tensor GradW) Reference(Tensor x, Tensor weight, Tensor gy)
    {
        var x64 = x.to(float64).detach().requires_grad_(true);
        var w64 = weight.to(float64).detach().requires_grad_(true);
        var y = nn.functional.conv2d(x64, w64, padding: [1, 1], groups: x.shape[1]);
        var grads = autograd.grad([(y * gy.to(float64)).sum()], [x64, w64]);
        return (y.detach(), grads[0], grads[1]);
    }

    /// <summary>Within 1e-5 of the reference's largest magnitude: float accumulation in another order than float64's.</summary>
    static void AssertNear(Tensor expected, Tensor actual, string what)
    {
        double scale = expected.abs().max().item<double>();
        Assert.True(scale > 0, $"{what}: the reference must not be all zeros");
        TestTorch.AssertClose(expected, actual, 1e-5 * scale, 0, what);
    }
}
