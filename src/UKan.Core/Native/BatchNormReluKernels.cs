using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// Training-mode batch norm followed by ReLU over channels-last activations (Native/Kernels/batch_norm_relu.cu): three
/// launches forward (per-block statistics, their merge with the running-statistics update, the normalisation with
/// ReLU) and three backward (per-block sums of the masked gradient, their merge into dL/dw and dL/db, dL/dx). The math
/// is that of <see cref="BatchNormRelu.Torch"/>; <c>ukan selftest --device cuda</c> compares the two.
/// </summary>
/// <remarks>
/// Against cuDNN's batch norm and ATen's ReLU it reads and writes the activations fewer times (forward: x twice, y
/// once, instead of x twice and the normalised map written, read and written again; backward: x and dy twice, dx once,
/// instead of ReLU's mask pass and the batch norm's two), and needs no tensor between the two operations.
/// </remarks>
public sealed class BatchNormReluKernels : IBatchNormReluKernels
{
    /// <summary>The kernels of this family in the CUDA source: the passes over the activations with a bfloat16 entry each.</summary>
    public static readonly string[] Functions =
        ["bn_relu_stats_finalize", "bn_relu_backward_finalize",
         .. StorageEntries.Names("bn_relu_stats", "bn_relu_apply", "bn_relu_apply_residual", "bn_relu_backward_sums", "bn_relu_backward_input")];

    /// <summary>The thread block of the row-striding kernels: 32 channels by 8 rows.</summary>
    static readonly (int X, int Y) TileBlock = (32, 8);

    /// <summary>
    /// Threads per block of the two merge kernels (a block per channel) for <paramref name="partials"/> partials per
    /// channel: one per partial, in whole warps, at most 256 (each thread then merges up to four of the 1,024).
    /// </summary>
    internal static int MergeThreads(long partials) => (int)Math.Clamp((partials + 31) / 32 * 32, 32, 256);

    readonly CudaKernelModule module;
    readonly IntPtr statsFinalize, backwardFinalize;
    readonly StorageEntries stats, apply, applyResidual, backwardSums, backwardInput;

    public BatchNormReluKernels(CudaKernelModule module)
    {
        this.module = module;
        (statsFinalize, backwardFinalize) = (module.Function("bn_relu_stats_finalize"), module.Function("bn_relu_backward_finalize"));
        (stats, apply) = (StorageEntries.Load(module, "bn_relu_stats"), StorageEntries.Load(module, "bn_relu_apply"));
        applyResidual = StorageEntries.Load(module, "bn_relu_apply_residual");
        (backwardSums, backwardInput) = (StorageEntries.Load(module, "bn_relu_backward_sums"), StorageEntries.Load(module, "bn_relu_backward_input"));
    }

    public (Tensor Y, Tensor Mean, Tensor InvStd) BatchNormReluForward(Tensor x, Tensor? weight, Tensor? bias,
        Tensor runningMean, Tensor runningVar, Tensor? batchesTracked, double momentum, double eps, Tensor? runningMeanShift = null,
        Tensor? statistics = null, Tensor? residual = null)
    {
        if (residual is not null && !BatchNormRelu.TakesResidual(x, residual))
            throw new ArgumentException("batch norm + ReLU kernels: the residual must have x's shape, strides, dtype and device");
        if (batchesTracked is not null && (batchesTracked.dtype != ScalarType.Int64 || batchesTracked.numel() != 1))
            throw new ArgumentException("batch norm + ReLU kernels: num_batches_tracked must be one int64");
        if (runningMeanShift is not null && runningMeanShift.numel() != x.shape[1])
            throw new ArgumentException("batch norm + ReLU kernels: the running mean's shift must have one value per channel");
        var (rows, c, grid) = Geometry(x);
        using var scope = NewDisposeScope();
        var y = empty_strided(x.shape, x.stride(), dtype: x.dtype, device: x.device);
        var mean = empty(c, dtype: float32, device: x.device);
        var invstd = empty(c, dtype: float32, device: x.device);
        // x's statistics: given (formed by the kernel that wrote x), else one pass over x; G groups of (count, mean, M2).
        long groups = grid.Y;
        Tensor partial;
        if (statistics is not null)
        {
            if (statistics.dtype != ScalarType.Float32 || !statistics.is_contiguous() || statistics.numel() == 0 || statistics.numel() % (3 * c) != 0)
                throw new ArgumentException("batch norm + ReLU kernels: statistics must be contiguous float32, G × 3 × C values");
            (partial, groups) = (statistics, statistics.numel() / (3 * c));
        }
        else
        {
            partial = empty(3 * grid.Y * c, dtype: float32, device: x.device);
            module.LaunchOn(stats.For(x), grid, TileBlock, 0, Pointer(x), rows, (int)c, Pointer(partial));
        }
        module.LaunchOn(statsFinalize, ((uint)c, 1), (MergeThreads(groups), 1), 0, Pointer(partial), (int)groups, (int)c, (float)eps, (float)momentum,
            Pointer(mean), Pointer(invstd), Pointer(Float32(runningMean)), Pointer(Float32(runningVar)), TensorPointer.OfInt64(batchesTracked),
            Pointer(runningMeanShift is null ? null : Float32(runningMeanShift)));
        if (residual is null)
            module.LaunchOn(apply.For(x), grid, TileBlock, 0, Pointer(x), Pointer(y), rows, (int)c, Pointer(mean), Pointer(invstd), Pointer(weight), Pointer(bias));
        else
            module.LaunchOn(applyResidual.For(x), grid, TileBlock, 0, Pointer(x), Pointer(y), rows, (int)c, Pointer(mean), Pointer(invstd),
                Pointer(weight), Pointer(bias), Pointer(residual));
        return (y.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), invstd.MoveToOuterDisposeScope());
    }

    public (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) BatchNormReluBackward(Tensor x, Tensor grad, Tensor mean, Tensor invStd,
        Tensor? weight, Tensor? bias)
    {
        if (!grad.stride().SequenceEqual(x.stride())) throw new ArgumentException("batch norm + ReLU backward: the gradient must have the input's strides");
        StorageEntries.CheckGradient("batch norm + ReLU", x, grad);
        var (rows, c, grid) = Geometry(x);
        using var scope = NewDisposeScope();
        var dx = empty_strided(x.shape, x.stride(), dtype: x.dtype, device: x.device);
        var gradW = weight is null ? null : empty(c, dtype: float32, device: x.device);
        var gradB = bias is null ? null : empty(c, dtype: float32, device: x.device);
        var partial = empty(2 * grid.Y * c, dtype: float32, device: x.device);
        var k = empty(2 * c, dtype: float32, device: x.device);
        module.LaunchOn(backwardSums.For(x), grid, TileBlock, 0, Pointer(x), Pointer(grad), rows, (int)c, Pointer(mean), Pointer(invStd),
            Pointer(weight), Pointer(bias), Pointer(partial));
        module.LaunchOn(backwardFinalize, ((uint)c, 1), (MergeThreads(grid.Y), 1), 0, Pointer(partial), (int)grid.Y, (int)c, rows, Pointer(invStd),
            Pointer(gradW), Pointer(gradB), Pointer(k));
        module.LaunchOn(backwardInput.For(x), grid, TileBlock, 0, Pointer(x), Pointer(grad), Pointer(dx), rows, (int)c, Pointer(mean), Pointer(invStd),
            Pointer(weight), Pointer(bias), Pointer(k));
        return (dx.MoveToOuterDisposeScope(), gradW?.MoveToOuterDisposeScope(), gradB?.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Rows (N·H·W), channels, and the grid of the row-striding kernels: a block column per 32 channels and as many
    /// blocks down the rows as fill the GPU about four times over (1,024 blocks in all) while each thread still gets
    /// four rows or more.
    /// </summary>
    internal static (long Rows, long Channels, (uint X, uint Y) Grid) Geometry(Tensor x)
    {
        if (!BatchNormRelu.Takes(x))
            throw new ArgumentException("batch norm + ReLU kernels: a float32 or bfloat16 channels-last (N, C, H, W) tensor with more than one value per channel");
        long c = x.shape[1], rows = x.numel() / c;
        long tiles = (c + TileBlock.X - 1) / TileBlock.X;
        long down = Math.Clamp((rows + 4 * TileBlock.Y - 1) / (4 * TileBlock.Y), 1, Math.Max(1, 1024 / tiles));
        return (rows, c, ((uint)tiles, (uint)down));
    }

    static Tensor Float32(Tensor t) =>
        t.dtype == ScalarType.Float32 && t.is_contiguous() ? t : throw new ArgumentException("batch norm + ReLU kernels: running statistics must be contiguous float32");
}
