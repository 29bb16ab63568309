using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// relu(2 × 2 max-pooling, stride 2) in one kernel forward and one backward (Native/Kernels/maxpool_relu.cu), instead of
/// PyTorch's max-pool (which also writes an int64 argmax per output), ReLU and their two backward kernels. The backward
/// recomputes the argmax from x. The math is that of <see cref="MaxPoolRelu.Torch"/>; <c>ukan selftest --device
/// cuda</c> compares the two. Float32 and bfloat16 tensors (<see cref="StorageEntries"/>): the result and the gradient
/// have x's dtype.
/// </summary>
public sealed class MaxPoolKernels : IMaxPoolKernels
{
    /// <summary>The kernels of this family in the CUDA source, each with its bfloat16 entry.</summary>
    public static readonly string[] Functions = StorageEntries.Names("maxpool2x_relu", "maxpool2x_relu_backward");

    readonly CudaKernelModule module;
    readonly StorageEntries forward, backward;

    public MaxPoolKernels(CudaKernelModule module) =>
        (this.module, forward, backward) =
            (module, StorageEntries.Load(module, "maxpool2x_relu"), StorageEntries.Load(module, "maxpool2x_relu_backward"));

    public Tensor MaxPoolTwiceRelu(Tensor x)
    {
        var (n, c, h, w, last) = Shape(x);
        var y = empty_strided([n, c, h / 2, w / 2], TensorLayout.DenseStrides(c, h / 2, w / 2, last), dtype: x.dtype, device: x.device);
        module.LaunchOnRows(forward.For(x), Geometry(x), h, w, last ? c : 1, Pointer(x), Pointer(y));
        return y;
    }

    public Tensor MaxPoolTwiceReluBackward(Tensor x, Tensor grad)
    {
        var (n, c, h, w, last) = Shape(x);
        StorageEntries.CheckGradient("max-pool", x, grad);
        using var scope = NewDisposeScope();
        var g = TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(c, h / 2, w / 2, last));
        // The kernel writes every input of a window; with an odd H or W the last row or column lies in none (dx = 0).
        var gx = empty_strided([n, c, h, w], TensorLayout.DenseStrides(c, h, w, last), dtype: x.dtype, device: x.device);
        if (h % 2 != 0 || w % 2 != 0) gx.zero_();
        module.LaunchOnRows(backward.For(x), Geometry(x), h, w, last ? c : 1, Pointer(x), Pointer(g), Pointer(gx));
        return gx.MoveToOuterDisposeScope();
    }

    static (long N, long C, long H, long W, bool ChannelsLast) Shape(Tensor x)
    {
        if (!MaxPoolRelu.Takes(x))
            throw new ArgumentException(
                "max-pool kernels: x must be a float32 or bfloat16 (N, C, H, W) tensor, H and W ≥ 2, dense NCHW or channels-last");
        return (x.shape[0], x.shape[1], x.shape[2], x.shape[3], TensorLayout.DenseChannelsLast(x)!.Value);
    }

    /// <summary>
    /// The launch of both kernels, a thread per output value: grid.x = the output rows of all planes (an image in
    /// channels-last, an image's channel in NCHW), grid.y × <see cref="Block"/> ≥ the values of a row.
    /// </summary>
    internal static (uint X, uint Y) Geometry(Tensor x)
    {
        var (n, c, h, w, last) = Shape(x);
        return RowGrid(n * (last ? 1 : c) * (h / 2), w / 2 * (last ? c : 1), "max-pool");
    }
}
