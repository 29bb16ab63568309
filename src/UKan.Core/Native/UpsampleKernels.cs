using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// relu(×2 bilinear upsampling) in one kernel forward and one backward (Native/Kernels/upsample_relu.cu), instead of
/// PyTorch's upsampling, ReLU, their backward kernels (the upsampling's with atomics) and the mask in between. The
/// math is that of <see cref="UpsampleRelu.Torch"/>; <c>ukan selftest --device cuda</c> compares the two. Float32 and
/// bfloat16 tensors (<see cref="StorageEntries"/>): the result and the gradient have x's dtype.
/// </summary>
public sealed class UpsampleKernels : IUpsampleKernels
{
    /// <summary>The kernels of this family in the CUDA source, each with its bfloat16 entry.</summary>
    public static readonly string[] Functions = StorageEntries.Names("upsample2x_relu", "upsample2x_relu_backward");

    readonly CudaKernelModule module;
    readonly StorageEntries forward, backward;

    public UpsampleKernels(CudaKernelModule module) =>
        (this.module, forward, backward) =
            (module, StorageEntries.Load(module, "upsample2x_relu"), StorageEntries.Load(module, "upsample2x_relu_backward"));

    public Tensor UpsampleTwiceRelu(Tensor x)
    {
        var (n, c, h, w, last) = Shape(x);
        var y = empty_strided([n, c, 2 * h, 2 * w], TensorLayout.DenseStrides(c, 2 * h, 2 * w, last), dtype: x.dtype, device: x.device);
        module.LaunchOnRows(forward.For(x), Geometry(x), h, w, last ? c : 1, Pointer(x), Pointer(y));
        return y;
    }

    public Tensor UpsampleTwiceReluBackward(Tensor x, Tensor grad)
    {
        var (n, c, h, w, last) = Shape(x);
        StorageEntries.CheckGradient("upsample", x, grad);
        using var scope = NewDisposeScope();
        var g = TensorLayout.WithStrides(grad, TensorLayout.DenseStrides(c, 2 * h, 2 * w, last));
        var gx = empty_strided([n, c, h, w], TensorLayout.DenseStrides(c, h, w, last), dtype: x.dtype, device: x.device);
        module.LaunchOnRows(backward.For(x), Geometry(x), h, w, last ? c : 1, Pointer(x), Pointer(g), Pointer(gx));
        return gx.MoveToOuterDisposeScope();
    }

    static (long N, long C, long H, long W, bool ChannelsLast) Shape(Tensor x)
    {
        if (!UpsampleRelu.Takes(x))
            throw new ArgumentException("upsample kernels: x must be a float32 or bfloat16 (N, C, H, W) tensor, dense NCHW or channels-last");
        return (x.shape[0], x.shape[1], x.shape[2], x.shape[3], TensorLayout.DenseChannelsLast(x)!.Value);
    }

    /// <summary>
    /// The launch of both kernels, a thread per input value: grid.x = the input rows of all planes (an image in
    /// channels-last, an image's channel in NCHW), grid.y × <see cref="Block"/> ≥ the values of a row.
    /// </summary>
    internal static (uint X, uint Y) Geometry(Tensor x)
    {
        var (n, c, h, w, last) = Shape(x);
        return RowGrid(n * (last ? 1 : c) * h, w * (last ? c : 1), "upsample");
    }
}
