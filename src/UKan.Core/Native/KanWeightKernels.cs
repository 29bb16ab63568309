using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// KANLinear's fused weight and its backward (Native/Kernels/kan_weight.cu), one launch each; the math is that of
/// <see cref="KanWeight.Torch"/>, which <c>ukan selftest --device cuda</c> compares them with.
/// </summary>
public sealed class KanWeightKernels : IKanWeightKernels
{
    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions = ["kan_weight_assemble", "kan_weight_assemble_backward"];

    readonly CudaKernelModule module;
    readonly IntPtr assemble, backward;

    public KanWeightKernels(CudaKernelModule module) =>
        (this.module, assemble, backward) = (module, module.Function("kan_weight_assemble"), module.Function("kan_weight_assemble_backward"));

    public Tensor KanWeightForward(Tensor baseWeight, Tensor splineWeight, Tensor? scaler)
    {
        Check(baseWeight, splineWeight, scaler);
        var (pairs, k) = (baseWeight.numel(), (int)splineWeight.shape[2]);
        var w = empty(baseWeight.shape[0], baseWeight.shape[1] * (k + 1), dtype: float32, device: splineWeight.device);
        if (pairs > 0) module.Launch(assemble, pairs * (k + 1), Pointer(baseWeight), Pointer(splineWeight), Pointer(scaler), Pointer(w), pairs, k);
        return w;
    }

    public (Tensor? GradBase, Tensor? GradSpline, Tensor? GradScaler) KanWeightBackward(Tensor grad, Tensor splineWeight, Tensor? scaler,
        bool needBase, bool needSpline, bool needScaler)
    {
        long o = splineWeight.shape[0], i = splineWeight.shape[1];
        int k = (int)splineWeight.shape[2];
        if (grad.dtype != ScalarType.Float32 || !grad.is_contiguous() || grad.numel() != o * i * (k + 1))
            throw new ArgumentException("KAN weight kernels: the gradient must be a contiguous float32 (out, in·(1+K)) tensor");
        var gb = needBase ? empty(o, i, dtype: float32, device: grad.device) : null;
        var gs = needSpline ? empty(o, i, k, dtype: float32, device: grad.device) : null;
        var gsc = needScaler && scaler is not null ? empty(o, i, dtype: float32, device: grad.device) : null;
        if (o * i > 0)
            module.Launch(backward, o * i, Pointer(grad), Pointer(splineWeight), Pointer(scaler), Pointer(gb), Pointer(gs), Pointer(gsc), o * i, k);
        return (gb, gs, gsc);
    }

    static void Check(Tensor baseWeight, Tensor splineWeight, Tensor? scaler)
    {
        if (!KanWeight.Takes(baseWeight, splineWeight, scaler))
            throw new ArgumentException("KAN weight kernels: float32 contiguous W_b (out, in), W_s (out, in, K) and s (out, in) on one device");
    }
}
