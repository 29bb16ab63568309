using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// One Adam / AdamW step over a parameter group's flat buffers in one kernel (<see cref="FlatAdam"/>'s fused path):
/// implemented by the fused CUDA kernels (UKan.Native), whose math is <see cref="FlatAdam"/>'s torch formulation.
/// </summary>
public interface IAdamKernels
{
    /// <summary>
    /// Updates <paramref name="param"/>, <paramref name="expAvg"/> and <paramref name="expAvgSq"/> in place from
    /// <paramref name="grad"/> (contiguous float32 buffers of one length on one device). The learning rate and the step
    /// t (already counted) are read from <paramref name="learningRateOnDevice"/> and <paramref name="stepOnDevice"/>
    /// when given (one-element float32 device tensors: graph-replayable), else taken as the values.
    /// </summary>
    void AdamStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? learningRateOnDevice, double learningRate,
        Tensor? stepOnDevice, long step, double beta1, double beta2, double eps, double weightDecay, bool decoupled);
}
