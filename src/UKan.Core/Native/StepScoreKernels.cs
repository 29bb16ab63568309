using UKan.Training;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// The training step's running scores (Native/Kernels/step_scores.cu) in one launch instead of PyTorch's 15: the
/// batch's pooled IoU added to its sum, the loss copied and added to its sum. The math is that of
/// <see cref="StepScores.Torch"/>; <c>ukan selftest --device cuda</c> compares the two.
/// </summary>
public sealed class StepScoreKernels(CudaKernelModule module) : IStepScoreKernels
{
    /// <summary>The kernel in the CUDA source.</summary>
    public static readonly string[] Functions = ["train_step_scores"];

    /// <summary>Threads per block (the kernel's shared array).</summary>
    internal const int Threads = 256;

    readonly IntPtr function = module.Function(Functions[0]);

    /// <summary>Blocks for <paramref name="values"/> values: about eight per thread, at most four blocks per multiprocessor.</summary>
    internal static uint Blocks(long values, int multiprocessors) =>
        (uint)Math.Clamp((values + 8 * Threads - 1) / (8 * Threads), 1, 4L * Math.Max(1, multiprocessors));

    public void AccumulateStepScores(Tensor logits, Tensor target, Tensor loss, double smooth, Tensor lastLoss, Tensor lossSum, Tensor iouSum,
        Tensor counts)
    {
        if (!StepScores.KernelsTake(logits, target))
            throw new ArgumentException("step score kernels: logits and target must be contiguous float32 tensors of one shape");
        foreach (var one in new[] { loss, lastLoss, lossSum, iouSum })
            if (one.dtype != ScalarType.Float32 || one.numel() != 1)
                throw new ArgumentException("step score kernels: the loss and the sums must be one float32 value each");
        if (counts.dtype != ScalarType.Int64 || counts.numel() != 3 || !counts.is_contiguous())
            throw new ArgumentException("step score kernels: counts must be three contiguous int64 zeros");
        module.LaunchOn(function, Blocks(logits.numel(), module.Multiprocessors), Threads, 0, Pointer(logits), Pointer(target), logits.numel(),
            Pointer(loss), (float)smooth, Pointer(lastLoss), Pointer(lossSum), Pointer(iouSum), TensorPointer.OfInt64(counts));
    }
}
