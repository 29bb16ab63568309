using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The kernels of the last upsampling with the segmentation head (Native/Kernels/upsample_relu.cu,
/// <c>upsample2x_relu_conv1x1_K</c>) run on the CPU (<see cref="CudaEmulation"/>, Emulation/upsample_head_harness.cpp,
/// with partial_sums.cu's merge) against <see cref="UpsampleRelu.Torch"/>'s head formulation in float64: the output, dL/dx
/// with its recomputed ReLU mask, and the head's dL/dw and dL/db from per-block partials. Shapes: every lane count a pixel
/// can have (forward 1 to 16 lanes of 4 channels, backward 2 to 32 of 2: 4 to 64 channels), 1 to 4 classes, borders (1 × 1 and one-row images), and grids of fewer
/// lanes than pixel-lanes, so that every lane takes several pixels (the forward's shuffles need the warp in step).
/// </summary>
public class UpsampleReluHeadEmulationTests
{
    [Theory]
    [InlineData(2, 16, 5, 7, 1, 1)]   // 280 pixel-lanes on 256 lanes: two rounds
    [InlineData(2, 16, 5, 7, 1, 2)]   // two blocks of partials
    [InlineData(1, 8, 1, 1, 3, 1)]
    [InlineData(2, 32, 3, 9, 2, 1)]
    [InlineData(1, 4, 2, 3, 4, 1)]
    [InlineData(1, 64, 2, 3, 1, 1)]
    [InlineData(3, 4, 1, 4, 2, 2)]
    public void The_kernels_compute_the_head_and_its_gradients(int n, int c, int h, int w, int k, int blocks)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(61);
        var nhwc = randn(n, h, w, c, generator: gen) + 0.2;
        var x = nhwc.permute(0, 3, 1, 2);                                             // channels-last, as the kernels take it
        var weight = randn(k, c, 1, 1, generator: gen) * 0.3;
        var bias = randn(k, generator: gen);
        var gz = randn(n, k, 2 * h, 2 * w, generator: gen);
        Assert.True(UpsampleReluHead.Takes(x, weight, bias));

        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "x", nhwc);
        CudaEmulation.Write(dir, "w", weight.flatten());
        CudaEmulation.Write(dir, "b", bias);
        CudaEmulation.Write(dir, "g", gz);
        var (mergeBlocks, mergeLanes) = PartialSums.Geometry(blocks, k * c + k);
        CudaEmulation.Run("upsample_head_harness", [dir, n, h, w, c, k, blocks, blocks, UpsampleKernels.HeadBlock, mergeBlocks, mergeLanes]);

        var reference = UpsampleRelu.Torch.Instance;
        var (x64, w64, b64, g64) = (x.to(float64), weight.to(float64), bias.to(float64), gz.to(float64));
        var z = reference.UpsampleTwiceReluConv1x1(x64, w64, b64);
        var (gx, gw, gb) = reference.UpsampleTwiceReluConv1x1Backward(x64, w64, g64);
        var up = reference.UpsampleTwiceRelu(x64);
        Assert.True(up.eq(0).any().item<bool>() && up.gt(0).any().item<bool>(), "the test data must reach both sides of the ReLU");
        CudaEmulation.AssertNear(z, CudaEmulation.Read(dir, "z", n, k, 2 * h, 2 * w), "z");
        CudaEmulation.AssertNear(gx, CudaEmulation.Read(dir, "gx", n, h, w, c).permute(0, 3, 1, 2), "dL/dx");
        CudaEmulation.AssertNear(gw, CudaEmulation.Read(dir, "gw", k, c, 1, 1), "dL/dw");
        CudaEmulation.AssertNear(gb, CudaEmulation.Read(dir, "gb", k), "dL/db");
    }

    [Fact]
    public void The_geometry_gives_a_lane_per_pixel_and_four_channels_up_to_four_blocks_per_multiprocessor()
    {
        // U-KAN's head at 256², batch 8: 131,072 input pixels of 16 channels, 8 lanes each backward: 4,096 blocks wanted,
        // 528 on an H200 (132 multiprocessors).
        Assert.Equal(528u, UpsampleKernels.HeadGrid(8 * 128 * 128, 16 / UpsampleKernels.HeadBackwardChannels, 132));
        Assert.Equal(3u, UpsampleKernels.HeadGrid(70, 32 / UpsampleKernels.HeadForwardChannels, 132));       // 560 lanes
        // The emulated shapes with one block: more pixel-lanes than the block's 256 lanes, so lanes take several pixels.
        Assert.True(2 * 5 * 7 * 4 > UpsampleKernels.HeadBlock && 2 * 3 * 9 * 8 > UpsampleKernels.HeadBlock);
        Assert.Equal(1u, UpsampleKernels.HeadGrid(1, 1, 132));
    }
}
