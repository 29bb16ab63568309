using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// The training step's running scores in one kernel (<see cref="StepScores"/>'s fused path): implemented by the fused
/// CUDA kernels (UKan.Native), whose math is <see cref="StepScores.Torch"/>'s for one sigmoid output.
/// </summary>
public interface IStepScoreKernels
{
    /// <summary>
    /// Adds the batch's pooled IoU ((|P ∩ G| + s) / (|P ∪ G| + s), P = logits &gt; 0, G = target &gt; 0.5, s =
    /// <paramref name="smooth"/>) to <paramref name="iouSum"/>, copies <paramref name="loss"/> to <paramref name="lastLoss"/>
    /// and adds it to <paramref name="lossSum"/> (one-element float32 device tensors). <paramref name="counts"/>: three
    /// int64 zeros the kernel works in and leaves at zero (graph-replayable); logits and target contiguous float32 of
    /// one length.
    /// </summary>
    void AccumulateStepScores(Tensor logits, Tensor target, Tensor loss, double smooth, Tensor lastLoss, Tensor lossSum, Tensor iouSum,
        Tensor counts);
}
