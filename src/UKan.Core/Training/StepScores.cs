using TorchSharp;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// What a training step adds to its epoch's running scores, on the device so that nothing waits for the GPU inside
/// an epoch: the batch's loss (kept as the last loss and added to the loss sum) and the batch's IoU with all its pixels
/// pooled, as the official training loop logs it (CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/train.py</c> with
/// <c>metrics.py</c>'s <c>iou_score</c>), added to the IoU sum. One sigmoid output on the GPU takes one kernel
/// (<see cref="IStepScoreKernels"/>) instead of PyTorch's 15 launches; multi-class outputs and the CPU take
/// <see cref="Torch"/>. <see cref="EnvironmentVariable"/>=off runs <see cref="Torch"/> everywhere (a comparison).
/// </summary>
public static class StepScores
{
    /// <summary>Set to <c>off</c> to compute the scores with PyTorch's operations (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_SCORES";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Whether the fused kernel is switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>
    /// Adds the batch's scores: <paramref name="loss"/> to <paramref name="lastLoss"/> (copied) and
    /// <paramref name="lossSum"/>, the pooled IoU of <paramref name="logits"/> against <paramref name="targets"/> read as
    /// <paramref name="output"/> says to <paramref name="iouSum"/>. <paramref name="counts"/>: the kernel's three int64
    /// zeros (allocated once, outside any graph capture).
    /// </summary>
    public static void Add(Tensor logits, Tensor targets, Tensor loss, SegmentationLoss output, Tensor lastLoss, Tensor lossSum, Tensor iouSum,
        Tensor counts)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        if (KernelsFor(logits, targets, output) is { } kernels)
            kernels.AccumulateStepScores(logits.detach(), targets, loss.detach(), UKan.Evaluation.SegmentationScores.OfficialSmooth, lastLoss,
                lossSum, iouSum, counts);
        else
            Torch(logits, targets, loss, output, lastLoss, lossSum, iouSum);
    }

    /// <summary>The fused kernel for these outputs, or null: one sigmoid output channel on CUDA (<see cref="KernelsTake"/>).</summary>
    internal static IStepScoreKernels? KernelsFor(Tensor logits, Tensor targets, SegmentationLoss output) =>
        Switch.Applies(logits) && output == SegmentationLoss.BceDice && logits.dim() == 4 && logits.shape[1] == 1 && KernelsTake(logits, targets)
            ? FusedSwitch.Kernels(logits) : null;

    /// <summary>Whether the kernel takes the pair: contiguous float32 tensors of one shape on one device.</summary>
    public static bool KernelsTake(Tensor logits, Tensor targets) =>
        logits.dtype == ScalarType.Float32 && targets.dtype == ScalarType.Float32 && logits.is_contiguous() && targets.is_contiguous()
        && logits.shape.SequenceEqual(targets.shape) && logits.device_type == targets.device_type && logits.device_index == targets.device_index;

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow taking the kernel or not, whatever the environment says
    /// (comparisons of both in one process).
    /// </summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>
    /// PyTorch's operations for the same (any device, any output): the reference of the kernel. Multi-class outputs are
    /// pooled over the scored classes (the predicted class of softmax outputs; <see cref="UKan.Evaluation.ClassMasks"/>).
    /// </summary>
    public static void Torch(Tensor logits, Tensor targets, Tensor loss, SegmentationLoss output, Tensor lastLoss, Tensor lossSum, Tensor iouSum)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var scored = UKan.Evaluation.ClassMasks.Split(logits, targets, output);
        var p = scored.Count == 1 ? scored[0].Logits > 0 : cat(scored.Select(c => c.Logits > 0).ToList(), 1);
        var g = scored.Count == 1 ? scored[0].Target > 0.5 : cat(scored.Select(c => c.Target > 0.5).ToList(), 1);
        const double smooth = UKan.Evaluation.SegmentationScores.OfficialSmooth;
        var iou = ((p & g).sum().to(float32) + smooth) / ((p | g).sum().to(float32) + smooth);
        lastLoss.copy_(loss.detach().reshape(1));
        lossSum.add_(lastLoss);
        iouSum.add_(iou.reshape(1));
    }
}
