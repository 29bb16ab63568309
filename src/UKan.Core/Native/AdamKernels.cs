using UKan.Training;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// Adam / AdamW over a parameter group's flat buffers in one launch (Native/Kernels/adam.cu); the math is that of
/// <see cref="FlatAdam"/>'s torch formulation, which <c>ukan selftest --device cuda</c> compares it with.
/// </summary>
public sealed class AdamKernels : IAdamKernels
{
    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions = ["adam_step"];

    readonly CudaKernelModule module;
    readonly IntPtr step;

    public AdamKernels(CudaKernelModule module) => (this.module, step) = (module, module.Function("adam_step"));

    public void AdamStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? learningRateOnDevice, double learningRate,
        Tensor? stepOnDevice, long step, double beta1, double beta2, double eps, double weightDecay, bool decoupled)
    {
        long n = param.numel();
        foreach (var t in new[] { grad, expAvg, expAvgSq })
            if (!FlatAdam.FusedTakes(param, t)) throw new ArgumentException("Adam kernel: contiguous float32 buffers of one length on one device");
        foreach (var s in new[] { learningRateOnDevice, stepOnDevice })
            if (s is not null && (s.dtype != ScalarType.Float32 || s.numel() != 1 || s.device != param.device))
                throw new ArgumentException("Adam kernel: the learning rate and step on the device are one float32 each, on the buffers' device");
        if (n == 0) return;
        module.Launch(this.step, n, Pointer(param), Pointer(grad), Pointer(expAvg), Pointer(expAvgSq), n,
            Pointer(learningRateOnDevice), (float)learningRate, Pointer(stepOnDevice), (float)step,
            (float)Math.Log(beta1), (float)Math.Log(beta2), (float)(1 - beta1), (float)beta2, (float)(1 - beta2), (float)eps,
            (float)weightDecay, decoupled ? 1 : 0);
    }
}
