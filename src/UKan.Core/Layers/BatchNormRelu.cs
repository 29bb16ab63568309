using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// ReLU(BatchNorm2d(x)) in training mode as one autograd node with fused CUDA kernels: every batch norm of U-KAN
/// (CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/archs.py</c>: <c>ConvLayer</c>, <c>D_ConvLayer</c>, <c>DW_bn_relu</c>)
/// is followed by a ReLU, and PyTorch runs the pair as cuDNN's batch norm, ATen's ReLU and their two backward kernels,
/// each a pass over the activations. The fused node computes the same function (batch statistics, biased variance
/// for the normalisation, running statistics moved by the momentum towards the unbiased variance, num_batches_tracked
/// counted) and keeps only x and two C-vectors for backward, where it recomputes ReLU's mask.
/// </summary>
/// <remarks>
/// Measured on an H200 (U-KAN paper preset, batch 8, CUDA graphs, docs/runs/peer-fused-bn-h200): train step 6.60 ms
/// against 6.78-6.84 ms for the modules at 256², 18.47 against 19.00 ms at 512²; BUSI accuracy the same within the
/// seeds' spread (docs/runs/bn-relu-h200). <c>ukan selftest --device cuda</c> compares the kernels with the modules
/// whatever the setting; a CPU test runs the kernel source under an emulation of CUDA's thread model.
/// <see cref="EnvironmentVariable"/>=off turns it off. It is used when all of these hold, else the module and ReLU
/// run as before: training mode; a float32 CUDA tensor laid out channels-last (the default on CUDA); an
/// affine layer with running statistics and a momentum (not a cumulative average); fused kernels allowed
/// (<see cref="KanFeatures.UseFusedKernels"/>) and built; the
/// layer not handed to another forward (<see cref="Exclude"/>: the synchronised batch norm of data-parallel training
/// replaces the layer's output through hooks, which this path would skip). Evaluation mode folds the batch norm into
/// the convolution instead (<see cref="BatchNormFold"/>). Forward hooks on the batch norm or the ReLU module do not run
/// on this path.
/// </remarks>
public static class BatchNormRelu
{
    /// <summary>Set to <c>off</c> to run training-mode batch norm + ReLU as the two modules instead of the fused node (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_BN_RELU";

    static readonly ConditionalWeakTable<BatchNorm2d, object> excluded = [];
    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Whether the fused node is switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>Keeps <paramref name="bn"/> on its own module forward (its hooks must run).</summary>
    public static void Exclude(BatchNorm2d bn) => excluded.AddOrUpdate(bn, bn);

    /// <summary>Whether <see cref="Exclude"/> was called for <paramref name="bn"/>.</summary>
    public static bool IsExcluded(BatchNorm2d bn) => excluded.TryGetValue(bn, out _);

    /// <summary>
    /// relu(bn(x)): the fused node where it applies (see the class), else the two modules, <paramref name="relu"/> a
    /// ReLU module of the network (or <see cref="Relu"/> where the network applies the function).
    /// </summary>
    /// <param name="residual">If given, added to the result: by the fused node where it takes it (<see cref="Apply"/>), else after.</param>
    public static Tensor Forward(BatchNorm2d bn, Tensor x, nn.Module<Tensor, Tensor> relu, Tensor? residual = null)
    {
        if (KernelsFor(bn, x) is { } kernels) return Apply(bn, x, kernels, residual: residual);
        var y = relu.call(bn.call(x));
        return residual is null ? y : y + residual;
    }

    /// <summary>A ReLU module for layers whose reference applies ReLU as a function (owned by no network).</summary>
    public static nn.Module<Tensor, Tensor> Relu => relu.Value;
    static readonly Lazy<ReLU> relu = new(() => nn.ReLU());

    /// <summary>
    /// Whether the fused kernels take <paramref name="x"/>: float32 or bfloat16 (what the convolutions give under bf16
    /// autocast; the kernels compute in float and round once at each store) (N, C, H, W) laid out channels-last and
    /// dense (a row-major N·H·W × C matrix), more than one value per channel (batch norm's training statistics need two).
    /// </summary>
    public static bool Takes(Tensor x) =>
        KernelStorage.Stores(x.dtype) && TensorLayout.IsChannelsLastDense(x) && x.numel() / Math.Max(1, x.shape[1]) > 1;

    /// <summary>The fused kernels for this layer and input, or null where the fused node does not apply.</summary>
    public static IBatchNormReluKernels? KernelsFor(BatchNorm2d bn, Tensor x)
    {
        if (!bn.training || !Switch.Applies(x) || !Takes(x)
            || bn.running_mean is null || bn.running_var is null || bn.momentum is not double momentum || momentum is <= 0 or > 1
            || bn.weight is null || bn.bias is null
            || bn.weight.dtype != ScalarType.Float32 || bn.running_mean.dtype != ScalarType.Float32   // the kernels' C-vectors are float32
            || IsExcluded(bn))
            return null;
        return FusedSwitch.Kernels(x);
    }

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow taking the fused node or not, whatever the environment
    /// says (comparisons of both in one process).
    /// </summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>
    /// relu(bn(x)) in training mode as one autograd node computed by <paramref name="kernels"/>: the CUDA kernels, or
    /// <see cref="Torch.Instance"/> (any device; the reference the tests check against the two modules).
    /// </summary>
    /// <param name="runningMeanShift">Added to the batch mean in the running mean's update only (<see cref="ConvBatchNorm"/>).</param>
    /// <param name="statistics">x's batch statistics formed by the kernel that wrote it (<see cref="IBatchNormReluKernels.BatchNormReluForward"/>), or null.</param>
    /// <param name="residual">
    /// Added to the result: by the node in the same pass where it takes it (<see cref="TakesResidual"/>: x's shape,
    /// strides and dtype), else after the node.
    /// </param>
    public static Tensor Apply(BatchNorm2d bn, Tensor x, IBatchNormReluKernels kernels, Tensor? runningMeanShift = null, Tensor? statistics = null,
        Tensor? residual = null)
    {
        if (residual is not null && !TakesResidual(x, residual))
            return Apply(bn, x, kernels, runningMeanShift, statistics) + residual;
        var momentum = bn.momentum ?? throw new ArgumentException("fused batch norm: a cumulative average (momentum null) is not supported");
        if (bn.weight is null || bn.bias is null || bn.running_mean is null || bn.running_var is null)
            throw new ArgumentException("fused batch norm: an affine layer with running statistics");
        // The shift travels boxed: a tensor argument would become an input of the autograd node. The residual is one.
        return OutputTemplates.Drop(Function.apply(x, bn.weight, bn.bias, kernels, bn, momentum, new StrongBox<Tensor?>(runningMeanShift),
            new StrongBox<Tensor?>(statistics), residual!));
    }

    /// <summary>Set to <c>off</c> to add a residual after the fused node instead of inside it (a comparison).</summary>
    public const string ResidualVariable = "UKAN_RESIDUAL_IN_BN";

    static readonly FusedSwitch ResidualSwitch = new(ResidualVariable);

    /// <summary>Whether the fused node adds <paramref name="residual"/> to its result on x: switched on, x's shape, strides, dtype and device.</summary>
    public static bool TakesResidual(Tensor x, Tensor residual) =>
        ResidualSwitch.On && residual.dtype == x.dtype && residual.device_type == x.device_type && residual.device_index == x.device_index
        && residual.shape.SequenceEqual(x.shape) && residual.stride().SequenceEqual(x.stride());

    /// <summary>Whether a residual on <paramref name="t"/>'s device may be handed to the node (both switches on, fused kernels allowed, CUDA).</summary>
    public static bool MayTakeResidual(Tensor t) => ResidualSwitch.On && Switch.Applies(t);

    /// <summary><paramref name="body"/>'s result with residuals added inside the node or after it, whatever the environment says.</summary>
    internal static T WithResidual<T>(bool on, Func<T> body) => ResidualSwitch.With(on, body);

    /// <summary>The node: saves x, w, b and the batch's mean and invstd; backward recomputes the normalisation and ReLU's mask.</summary>
    sealed class Function : AffineNormFunction<Function, IBatchNormReluKernels>
    {
        public override string Name => "BatchNormRelu";

        protected override (Tensor Y, Tensor[] Saved) Forward(IBatchNormReluKernels kernels, Tensor x, Tensor weight, Tensor bias, object[] rest)
        {
            var (bn, momentum, shift, statistics) = ((BatchNorm2d)rest[0], (double)rest[1], ((StrongBox<Tensor?>)rest[2]).Value,
                ((StrongBox<Tensor?>)rest[3]).Value);
            var (y, mean, invstd) = kernels.BatchNormReluForward(x, weight, bias, bn.running_mean!, bn.running_var!, bn.num_batches_tracked,
                momentum, bn.eps, shift, statistics, rest[4] as Tensor);
            return (y, [bias, mean, invstd]);
        }

        // The residual (the node's own argument 4) gets dL/dy itself, as a view (never the incoming tensor: HandedBackGradients).
        protected override (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) Backward(IBatchNormReluKernels kernels, Tensor x,
            Tensor weight, IList<Tensor> saved, Tensor grad, Tensor?[] own)
        {
            own[4] = grad.alias();
            return kernels.BatchNormReluBackward(x, TensorLayout.WithStrides(grad, x.stride()), saved[1], saved[2], weight, saved[0]);
        }
    }

    /// <summary>
    /// The torch formulation of the fused kernels (any device): the reference they are checked against, and which
    /// the tests check against BatchNorm2d followed by ReLU.
    /// </summary>
    public sealed class Torch : IBatchNormReluKernels
    {
        public static readonly Torch Instance = new();

        static readonly long[] Reduced = [0, 2, 3];

        public (Tensor Y, Tensor Mean, Tensor InvStd) BatchNormReluForward(Tensor x, Tensor? weight, Tensor? bias,
            Tensor runningMean, Tensor runningVar, Tensor? batchesTracked, double momentum, double eps, Tensor? runningMeanShift = null,
            Tensor? statistics = null, Tensor? residual = null)
        {
            using var scope = NewDisposeScope();
            long n = x.numel() / x.shape[1];
            var storage = x.dtype;
            x = x.to(float32);                                              // as the kernels: float arithmetic, one rounding at the store
            var (mean, variance) = statistics is null ? Moments(x) : Merged(statistics, x.shape[1]);
            var invstd = (variance + eps).rsqrt();
            var y = F.relu(Pre(x, mean, invstd, weight, bias));
            y = (residual is null ? y : y + residual.to(float32)).to(storage);
            runningMean.mul_(1 - momentum).add_(runningMeanShift is null ? mean : mean + runningMeanShift.detach(), alpha: momentum);
            runningVar.mul_(1 - momentum).add_(variance * (n / (double)(n - 1)), alpha: momentum);
            batchesTracked?.add_(1);
            return (y.MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), invstd.MoveToOuterDisposeScope());
        }

        public (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) BatchNormReluBackward(Tensor x, Tensor grad, Tensor mean, Tensor invStd,
            Tensor? weight, Tensor? bias)
        {
            using var scope = NewDisposeScope();
            long n = x.numel() / x.shape[1];
            var storage = x.dtype;
            (x, grad) = (x.to(float32), grad.to(float32));
            var g = grad * Pre(x, mean, invStd, weight, bias).gt(0);         // ReLU's gradient
            var centred = x - Channel(mean);
            var sumG = g.sum(Reduced);
            var gradW = (g * centred).sum(Reduced) * invStd;                  // Σ g·x̂
            var scale = weight is null ? invStd : weight * invStd;
            var gradX = Channel(scale) * (g - Channel(sumG / n) - centred * Channel(invStd) * Channel(gradW / n));
            return (gradX.to(storage).MoveToOuterDisposeScope(), weight is null ? null : gradW.MoveToOuterDisposeScope(),
                bias is null ? null : sumG.MoveToOuterDisposeScope());
        }

        /// <summary>The batch mean and biased variance (what the normalisation uses) per channel of x.</summary>
        static (Tensor Mean, Tensor Variance) Moments(Tensor x)
        {
            var mean = x.mean(Reduced);
            return (mean, (x - Channel(mean)).square().mean(Reduced));
        }

        /// <summary>
        /// The batch mean and biased variance per channel from G groups of (count, mean, M2), laid out [G][3][C]: the
        /// pooled mean Σ nᵢ·meanᵢ / n, then M2 = Σ (M2ᵢ + nᵢ·(meanᵢ − mean)²), in float64.
        /// </summary>
        public static (Tensor Mean, Tensor Variance) Merged(Tensor statistics, long channels)
        {
            using var scope = NewDisposeScope();
            var s = statistics.to(float64).view(-1, 3, channels);
            var (counts, means, m2) = (s.select(1, 0), s.select(1, 1), s.select(1, 2));
            var n = counts.sum(0L);
            var mean = (counts * means).sum(0L) / n;
            var variance = (m2 + counts * (means - mean).square()).sum(0L) / n;
            return (mean.to(float32).MoveToOuterDisposeScope(), variance.to(float32).MoveToOuterDisposeScope());
        }

        /// <summary>(x − mean)·invstd·w + b, the pre-activation.</summary>
        static Tensor Pre(Tensor x, Tensor mean, Tensor invstd, Tensor? weight, Tensor? bias)
        {
            var scale = weight is null ? invstd : invstd * weight;
            var pre = (x - Channel(mean)) * Channel(scale);
            return bias is null ? pre : pre + Channel(bias);
        }

        static Tensor Channel(Tensor v) => v.view(1, -1, 1, 1);
    }
}
