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
    public static readonly string[] Functions =
        [.. StorageEntries.Names("upsample2x_relu", "upsample2x_relu_backward"),
         .. Enumerable.Range(1, UpsampleReluHead.MaxClasses).SelectMany(k => new[] { HeadName("", k), HeadName("_backward", k) })];

    static string HeadName(string pass, int classes) => $"upsample2x_relu_conv1x1{pass}_{classes}";

    /// <summary>Threads per block of the kernels with the head (UPSAMPLE_HEAD_BLOCK in the source: the backward's shared sums).</summary>
    internal const int HeadBlock = 256;

    /// <summary>Channels per thread of the head's forward and backward kernels (CPL in the source).</summary>
    internal const int HeadForwardChannels = 4, HeadBackwardChannels = 2;

    readonly CudaKernelModule module;
    readonly StorageEntries forward, backward;
    readonly PartialSums merge;
    /// <summary>The head's (forward, backward) entries by class count, looked up once.</summary>
    readonly (IntPtr Forward, IntPtr Backward)[] head;

    public UpsampleKernels(CudaKernelModule module) =>
        (this.module, forward, backward, merge, head) =
            (module, StorageEntries.Load(module, "upsample2x_relu"), StorageEntries.Load(module, "upsample2x_relu_backward"), new PartialSums(module),
             [.. Enumerable.Range(1, UpsampleReluHead.MaxClasses)
                 .Select(k => (module.Function(HeadName("", k)), module.Function(HeadName("_backward", k))))]);

    public Tensor UpsampleTwiceRelu(Tensor x, Tensor? skip = null)
    {
        var (n, c, h, w, last) = Shape(x);
        if (skip is not null && !UpsampleRelu.SkipFits(x, skip))
            throw new ArgumentException("upsample kernels: the skip must have the output's shape, dtype and layout");
        var y = empty_strided([n, c, 2 * h, 2 * w], TensorLayout.DenseStrides(c, 2 * h, 2 * w, last), dtype: x.dtype, device: x.device);
        module.LaunchOnRows(forward.For(x), Geometry(x), h, w, last ? c : 1, Pointer(x), Pointer(skip), Pointer(y));
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

    public Tensor UpsampleTwiceReluConv1x1(Tensor x, Tensor weight, Tensor bias)
    {
        var (n, c, h, w, k) = HeadShape(x, weight, bias);
        var z = empty([n, k, 2 * h, 2 * w], dtype: float32, device: x.device);
        if (z.numel() > 0)
            module.LaunchOn(head[k - 1].Forward, HeadGrid(n * h * w, c / HeadForwardChannels, module.Multiprocessors), HeadBlock, 0,
                Pointer(x), Pointer(weight), Pointer(bias), Pointer(z), (int)n, (int)h, (int)w, (int)(c / HeadForwardChannels));
        return z;
    }

    public (Tensor GradX, Tensor GradWeight, Tensor GradBias) UpsampleTwiceReluConv1x1Backward(Tensor x, Tensor weight, Tensor grad)
    {
        var (n, c, h, w, k) = HeadShape(x, weight, null);
        if (grad.dtype != ScalarType.Float32 || !grad.shape.SequenceEqual([n, k, 2 * h, 2 * w]))
            throw new ArgumentException("upsample head kernels: dL/dz must be float32 (N, K, 2H, 2W)");
        using var scope = NewDisposeScope();
        var g = grad.contiguous();
        var gx = empty_strided(x.shape, x.stride(), dtype: float32, device: x.device);
        var sums = empty(k * c + k, dtype: float32, device: x.device);   // the merge writes every value; zeros for an empty map
        if (gx.numel() == 0)
            sums.zero_();
        else
        {
            var blocks = HeadGrid(n * h * w, c / HeadBackwardChannels, module.Multiprocessors);
            var partial = empty(blocks * (k * c + k), dtype: float32, device: x.device);
            module.LaunchOn(head[k - 1].Backward, blocks, HeadBlock, 0,
                Pointer(x), Pointer(weight), Pointer(g), Pointer(gx), Pointer(partial), (int)n, (int)h, (int)w, (int)(c / HeadBackwardChannels));
            merge.Sum(partial, blocks, k * c + k, sums);
        }
        return (gx.MoveToOuterDisposeScope(), sums[..(int)(k * c)].view(k, c, 1, 1).MoveToOuterDisposeScope(),
            sums[(int)(k * c)..].MoveToOuterDisposeScope());
    }

    static (long N, long C, long H, long W, int K) HeadShape(Tensor x, Tensor weight, Tensor? bias)
    {
        if (!UpsampleReluHead.Takes(x, weight, bias))
            throw new ArgumentException("upsample head kernels: x must be float32 channels-last (N, C, H, W) with C = 4, 8, ..., 64 and the weight " +
                $"float32 (K, C, 1, 1) with K <= {UpsampleReluHead.MaxClasses}, the bias float32 (K)");
        return (x.shape[0], x.shape[1], x.shape[2], x.shape[3], (int)weight.shape[0]);
    }

    /// <summary>
    /// Blocks of the kernels with the head for <paramref name="pixels"/> input pixels of <paramref name="lanes"/> threads
    /// each (a thread per pixel and 4 channels forward, 2 backward): at most four blocks per multiprocessor, the most the
    /// kernels' launch bounds keep resident, so that all run in one wave (the threads then take further pixels in turn;
    /// the backward's partial sums have a row per block).
    /// </summary>
    internal static uint HeadGrid(long pixels, long lanes, int multiprocessors)
    {
        long threads = pixels * lanes;
        return (uint)Math.Clamp((threads + HeadBlock - 1) / HeadBlock, 1, 4L * Math.Max(1, multiprocessors));
    }
}
