using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// LayerNorm over the tokens' channels in one kernel forward and two backward (Native/Kernels/layer_norm.cu): a warp
/// per row, the row kept in registers; the backward's first kernel also sums the weight's and bias's gradients per
/// block, the second adds the blocks' sums. Against PyTorch's kernels for U-KAN's token sizes (a few thousand rows of
/// 128 to 512 channels), whose gradient of the weight and bias alone took 14 µs a launch on an H200. The math is that
/// of <see cref="FusedLayerNorm.Torch"/>; <c>ukan selftest --device cuda</c> compares the two.
/// </summary>
public sealed class LayerNormKernels : ILayerNormKernels
{
    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions =
        ["layer_norm_backward_params",
         .. StorageEntries.Names("layer_norm_forward", "layer_norm_backward", "layer_norm_forward_in_bias", "layer_norm_backward_in_bias")];

    /// <summary>Threads per block: 8 warps, a row each.</summary>
    internal const int Threads = 256;

    /// <summary>The most blocks of the backward's first kernel (each writes one partial sum per channel).</summary>
    internal const int MaxBackwardBlocks = 128;

    readonly CudaKernelModule module;
    readonly StorageEntries forward, backward, forwardInBias, backwardInBias;
    readonly IntPtr parameters;

    public LayerNormKernels(CudaKernelModule module)
    {
        this.module = module;
        (forward, backward) = (StorageEntries.Load(module, "layer_norm_forward"), StorageEntries.Load(module, "layer_norm_backward"));
        (forwardInBias, backwardInBias) = (StorageEntries.Load(module, "layer_norm_forward_in_bias"), StorageEntries.Load(module, "layer_norm_backward_in_bias"));
        parameters = module.Function("layer_norm_backward_params");
    }

    public (Tensor Y, Tensor Mean, Tensor Rstd) LayerNormForward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor? inputBias = null)
    {
        var (rows, c) = Shape(x, weight, bias, inputBias);
        using var scope = NewDisposeScope();
        var y = empty(x.shape, dtype: float32, device: x.device);
        var mean = empty(rows, dtype: float32, device: x.device);
        var rstd = empty(rows, dtype: float32, device: x.device);
        if (rows > 0 && inputBias is null)
            module.LaunchOn(forward.For(x), (uint)ForwardBlocks(rows), Threads, 0,
                Pointer(x), Pointer(y), Pointer(weight), Pointer(bias), Pointer(mean), Pointer(rstd), rows, (int)c, (float)eps);
        else if (rows > 0)
            module.LaunchOn(forwardInBias.For(x), (uint)ForwardBlocks(rows), Threads, 0,
                Pointer(x), Pointer(y), Pointer(weight), Pointer(bias), Pointer(inputBias), Pointer(mean), Pointer(rstd), rows, (int)c, (float)eps);
        return (y.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), rstd.MoveToOuterDisposeScope());
    }

    public (Tensor GradX, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor x, Tensor grad, Tensor mean, Tensor rstd, Tensor weight,
        Tensor? inputBias = null, Tensor? gradInputBias = null)
    {
        var (rows, c) = Shape(x, weight, weight, inputBias);
        if (gradInputBias is not null && (inputBias is null || !FusedLayerNorm.TakesInputBias(gradInputBias, c)))
            throw new ArgumentException("layer norm kernels: the input bias's gradient needs the input bias and a contiguous float32 vector of C");
        using var scope = NewDisposeScope();
        var g = grad.to(float32).contiguous();
        var dx = empty(x.shape, dtype: x.dtype, device: x.device);
        var dw = empty(c, dtype: float32, device: x.device);
        var db = empty(c, dtype: float32, device: x.device);
        int blocks = BackwardBlocks(rows);
        // With an input bias its gradient is a third partial sum per block, written by the second kernel (or dropped:
        // the kernels form it whenever the input bias is given, so that both see the same layout of the partials).
        int sums = inputBias is null ? 2 : 3;
        var partial = empty(sums * blocks * c, dtype: float32, device: x.device);
        var gradIn = inputBias is null ? null : gradInputBias ?? empty(c, dtype: float32, device: x.device);
        if (inputBias is null)
            module.LaunchOn(backward.For(x), (uint)blocks, Threads, SharedBytes(c, sums),
                Pointer(x), Pointer(g), Pointer(mean), Pointer(rstd), Pointer(weight), Pointer(dx), Pointer(partial), rows, (int)c);
        else
            module.LaunchOn(backwardInBias.For(x), (uint)blocks, Threads, SharedBytes(c, sums),
                Pointer(x), Pointer(g), Pointer(mean), Pointer(rstd), Pointer(weight), Pointer(inputBias), Pointer(dx), Pointer(partial), rows, (int)c);
        module.LaunchOn(parameters, ((uint)((c + 31) / 32), 1), (32, 8), 0, Pointer(partial), blocks, (int)c, Pointer(dw), Pointer(db), Pointer(gradIn));
        return (dx.MoveToOuterDisposeScope(), dw.MoveToOuterDisposeScope(), db.MoveToOuterDisposeScope());
    }

    /// <summary>Blocks of the forward: a row per warp.</summary>
    internal static long ForwardBlocks(long rows) => (rows + Threads / 32 - 1) / (Threads / 32);

    /// <summary>Blocks of the backward's first kernel: a row per warp at first, at most <see cref="MaxBackwardBlocks"/> (warps then take several rows).</summary>
    internal static int BackwardBlocks(long rows) => (int)Math.Clamp(ForwardBlocks(rows), 1, MaxBackwardBlocks);

    /// <summary>The backward's dynamic shared memory: two sums per warp and channel, three with an input bias.</summary>
    internal static int SharedBytes(long channels, int sums = 2) => (int)(sums * (Threads / 32) * channels * sizeof(float));

    static (long Rows, long C) Shape(Tensor x, Tensor weight, Tensor bias, Tensor? inputBias)
    {
        if (!FusedLayerNorm.Takes(x, weight, bias) || inputBias is not null && !FusedLayerNorm.TakesInputBias(inputBias, x.shape[^1]))
            throw new ArgumentException($"layer norm kernels: a contiguous float32 or bfloat16 tensor whose last dimension (at most {FusedLayerNorm.MaxChannels}) "
                + "matches float32 weight and bias (and input bias)");
        long c = x.shape[^1];
        return (x.numel() / c, c);
    }
}
