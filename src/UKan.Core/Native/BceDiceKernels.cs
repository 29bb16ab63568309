using UKan.Losses;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// U-KAN's BCE + Dice loss (Native/Kernels/bce_dice.cu): per-block partial sums and their merge forward, dL/dlogits in
/// one launch backward. The math is that of <see cref="FusedBceDice.Torch"/>; <c>ukan selftest --device cuda</c>
/// compares the two.
/// </summary>
public sealed class BceDiceKernels : IBceDiceKernels
{
    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions = ["bce_dice_partials", "bce_dice_finalize", "bce_dice_backward"];

    /// <summary>Threads per block of the partial sums (the kernel's shared arrays and tree reduction assume it).</summary>
    const int PartialThreads = 256;

    readonly CudaKernelModule module;
    readonly IntPtr partials, finalize, backward;

    public BceDiceKernels(CudaKernelModule module) =>
        (this.module, partials, finalize, backward) =
            (module, module.Function("bce_dice_partials"), module.Function("bce_dice_finalize"), module.Function("bce_dice_backward"));

    /// <summary>
    /// Blocks per image of the partial sums: enough for about eight values per thread, at most 1,024 blocks in all.
    /// </summary>
    internal static int BlocksPerImage(long images, long perImage) =>
        (int)Math.Clamp((perImage + 8 * PartialThreads - 1) / (8 * PartialThreads), 1, Math.Max(1, 1024 / images));

    public (Tensor Loss, Tensor Sums) BceDiceForward(Tensor logits, Tensor target, double bceWeight, double smooth)
    {
        var (n, perImage) = Check(logits, target);
        using var scope = NewDisposeScope();
        int g = BlocksPerImage(n, perImage);
        var partial = empty(n * g * 4, dtype: float32, device: logits.device);
        var loss = empty([], dtype: float32, device: logits.device);
        var sums = empty(n, 3, dtype: float32, device: logits.device);
        module.LaunchOn(partials, ((uint)g, (uint)n), (PartialThreads, 1), 0, Pointer(logits), Pointer(target), perImage, Pointer(partial));
        module.LaunchOn(finalize, 1u, (int)Math.Min(1024, (n + 31) / 32 * 32), 0, Pointer(partial), (int)n, g, (double)logits.numel(),
            bceWeight, smooth, Pointer(loss), Pointer(sums));
        return (loss.MoveToOuterDisposeScope(), sums.MoveToOuterDisposeScope());
    }

    public Tensor BceDiceBackward(Tensor logits, Tensor target, Tensor sums, Tensor gradLoss, double bceWeight, double smooth)
    {
        var (n, perImage) = Check(logits, target);
        if (sums.dtype != ScalarType.Float32 || !sums.is_contiguous() || sums.numel() != 3 * n)
            throw new ArgumentException("BCE + Dice kernels: the sums must be the forward's contiguous float32 (N, 3)");
        using var scope = NewDisposeScope();
        var g = gradLoss.dtype == ScalarType.Float32 && gradLoss.numel() == 1 ? gradLoss.contiguous() : gradLoss.to(float32).reshape(1);
        var dx = empty_strided(logits.shape, logits.stride(), dtype: float32, device: logits.device);
        long chunks = (perImage + Block - 1) / Block;
        if (chunks > uint.MaxValue) throw new ArgumentException($"BCE + Dice kernels: {perImage} values per image exceed the launch grid");
        module.LaunchOn(backward, ((uint)chunks, (uint)n), (Block, 1), 0, Pointer(logits), Pointer(target), Pointer(sums), Pointer(g), perImage,
            (int)n, bceWeight, smooth, Pointer(dx));
        return dx.MoveToOuterDisposeScope();
    }

    static (long Images, long PerImage) Check(Tensor logits, Tensor target)
    {
        if (!FusedBceDice.Takes(logits, target))
            throw new ArgumentException("BCE + Dice kernels: float32 logits and targets of one shape and memory order, dense, 1 to 1,024 images");
        return (logits.shape[0], logits.numel() / logits.shape[0]);
    }
}
