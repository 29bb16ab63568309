using UKan.Losses;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The BCE + Dice loss kernels (Native/Kernels/bce_dice.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/bce_dice_harness.cpp: the geometry of <see cref="BceDiceKernels"/>) against the torch formulation
/// (<see cref="FusedBceDice.Torch"/>): the loss, each image's sums and dL/dlogits. (<c>ukan selftest --device cuda</c>
/// checks them on one.)
/// </summary>
public class BceDiceEmulationTests
{
    /// <summary>Shapes: several blocks per image with a partly filled last one; one image; values past ±20 (sigmoid saturates).</summary>
    [Theory]
    [InlineData(3, 1, 40, 60, 3.0)]
    [InlineData(1, 2, 7, 5, 1.0)]
    [InlineData(2, 1, 9, 9, 30.0)]
    public void The_kernels_compute_the_torch_formulation(int n, int c, int h, int w, double scale)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(29);
        var x = randn(n, c, h, w, generator: gen) * scale;
        var t = (rand(n, c, h, w, generator: gen) > 0.6).to(float32);
        long perImage = c * h * w;
        int g = BceDiceKernels.BlocksPerImage(n, perImage);
        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "x", x);
        CudaEmulation.Write(dir, "t", t);
        CudaEmulation.Run("bce_dice_harness", dir, n, perImage, g, CudaEmulation.Text(0.5), CudaEmulation.Text(BceDiceLoss.Smooth), 0.7,
            CudaKernelModule.Block);

        var reference = FusedBceDice.Torch.Instance;
        var (loss, sums) = reference.BceDiceForward(x, t, 0.5, BceDiceLoss.Smooth);
        var dx = reference.BceDiceBackward(x, t, sums, tensor(0.7f), 0.5, BceDiceLoss.Smooth);
        TestTorch.AssertClose(loss.reshape(1), CudaEmulation.Read(dir, "loss", 1), 1e-6, 1e-6, "loss");
        TestTorch.AssertClose(sums, CudaEmulation.Read(dir, "sums", n, 3), 1e-4, 1e-6, "sums");
        TestTorch.AssertClose(dx, CudaEmulation.Read(dir, "dx", n, c, h, w), 1e-9, 1e-5, "dx");
    }
}
