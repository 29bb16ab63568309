using System.Runtime.CompilerServices;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// A convolution with bias followed by a BatchNorm2d, run in training mode without adding the bias. Every such pair of
/// U-KAN (CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/archs.py</c>: <c>ConvLayer</c>, <c>D_ConvLayer</c>,
/// <c>DW_bn_relu</c>) and of the convolutional baselines gives its bias to a batch norm that subtracts the batch mean of
/// each channel, so BN_train(conv(x) + b) = BN_train(conv(x)) for any per-channel b: the output does not depend on b and
/// ∂L/∂b is exactly zero. PyTorch still adds b in a broadcast kernel and computes ∂L/∂b as a sum over N, H and W (a few
/// channels over millions of rows), which comes out as rounding noise. Here the convolution runs without its bias and b
/// gets no gradient at all.
/// </summary>
/// <remarks>
/// b matters only through the running mean, which nn.BatchNorm2d moves towards the batch mean of its input with the
/// momentum f: μ ← (1 − f)·μ + f·mean(conv(x) + b) = (1 − f)·(μ + f·b/(1 − f)) + f·mean(conv(x)). So μ gets f·b/(1 − f)
/// just before the batch norm runs on conv(x), and comes out of its usual update as in the official computation, up to
/// float rounding. (Adding f·b afterwards would change a tensor that the batch norm's backward keeps, which autograd
/// refuses.) Where the fused batch norm + ReLU node runs, its running-mean update adds b to the batch mean itself,
/// μ ← (1 − f)·μ + f·(mean(conv(x)) + b), the same sum without a launch of its own. Elsewhere the batch norm's own
/// forward runs, hooks included (the synchronised batch norm of data-parallel training attaches there, and keeps the
/// fused node away), so num_batches_tracked and the running variance, which does not depend on b, are its own; and so
/// is everything evaluation mode computes.
/// The official computation runs whenever the shortcut does not apply: evaluation mode; a batch norm without running
/// statistics, or with a cumulative average (momentum null: its factor is 1 on the first batch) or a momentum of 1;
/// a convolution that is not a plain zero-padded nn.Conv2d with bias (ALL U-KAN's KAonv, the stacked-KAN baseline's KAN
/// convolution); the CPU, unless <see cref="EnvironmentVariable"/>=dropped; or <see cref="EnvironmentVariable"/>=official. The convolution's own forward and its hooks are skipped
/// on the shortcut (only evaluation-mode passes hook convolutions here: the model summary).
/// </remarks>
public static class ConvBatchNorm
{
    /// <summary>Set to <c>official</c> to add the bias before the batch norm in training too, as the official code does.</summary>
    public const string EnvironmentVariable = "UKAN_BIAS_BEFORE_BN";

    /// <summary>The value of <see cref="EnvironmentVariable"/> that restores the official computation.</summary>
    public const string Official = "official";

    static readonly FlowOverride forced = new();

    /// <summary>The value of <see cref="EnvironmentVariable"/> that leaves the bias out on every device, the CPU included.</summary>
    public const string Dropped = "dropped";

    /// <summary>
    /// Whether training-mode passes on <paramref name="device"/> leave the bias out: by default on CUDA, where it saves
    /// a broadcast add and a bias-gradient reduction per convolution (0.56 ms of a 7.6 ms U-KAN step on an H200), and
    /// not on the CPU, where it saves nothing measurable and the official computation's rounding, and so its results,
    /// are kept; <see cref="EnvironmentVariable"/>=official: never; =dropped: everywhere; inside <see cref="With{T}"/>
    /// as forced there.
    /// </summary>
    public static bool DropsBias(DeviceType device) =>
        forced.Value ?? DropsBias(Environment.GetEnvironmentVariable(EnvironmentVariable), device);

    /// <summary><see cref="DropsBias(DeviceType)"/> for a given value of <see cref="EnvironmentVariable"/>.</summary>
    public static bool DropsBias(string? variable, DeviceType device) =>
        !IsOfficial(variable) && (device == DeviceType.CUDA || string.Equals(variable?.Trim(), Dropped, StringComparison.OrdinalIgnoreCase));

    /// <summary>Whether a value of <see cref="EnvironmentVariable"/> asks for the official computation.</summary>
    public static bool IsOfficial(string? value) => string.Equals(value?.Trim(), Official, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow (this thread and the tasks it starts) taking one computation,
    /// whatever the environment says: comparisons of both in one process, where setting the variable would reach other
    /// threads.
    /// </summary>
    internal static T With<T>(bool dropBias, Func<T> body) => forced.With(dropBias, body);

    /// <summary>
    /// bn(conv(x)), or relu(bn(conv(x))) with the ReLU module <paramref name="relu"/> (through <see cref="BatchNormRelu"/>:
    /// one fused node in training on the GPU), without the convolution's bias in training mode when that changes nothing
    /// (see the class).
    /// </summary>
    /// <param name="residual">
    /// If given, added to the result (the KAN blocks' x + layer(norm(x))): inside the fused batch norm + ReLU node where it
    /// runs and takes it (<see cref="BatchNormRelu.Apply"/>), else after.
    /// </param>
    public static Tensor Forward(nn.Module<Tensor, Tensor> conv, BatchNorm2d bn, Tensor x, nn.Module<Tensor, Tensor>? relu = null,
        Tensor? residual = null)
    {
        if (!bn.training || bn.running_mean is not { } runningMean || bn.momentum is not double momentum || momentum is < 0 or >= 1
            || conv is not Conv2d c || c.bias is not { } bias || !BatchNormFold.ZeroPadded(c)
            || !DropsBias(x.device_type))
            return Normalize(bn, conv.call(x), relu, residual);
        // Where the fused batch norm + ReLU follows, our convolution kernels may hand it the statistics of their output.
        var statistics = relu is not null ? new StrongBox<Tensor?>() : null;
        var y = FusedConv3x3.Forward(x, c.weight!, null, c.stride, c.padding!, c.dilation, c.groups, statistics);
        using var formed = statistics?.Value;
        // The fused batch norm + ReLU takes the bias into its running-mean update (no launch of its own).
        if (relu is not null && BatchNormRelu.KernelsFor(bn, y) is { } kernels)
            return BatchNormRelu.Apply(bn, y, kernels, runningMeanShift: bias, statistics: formed, residual: residual);
        using (no_grad()) runningMean.add_(bias, alpha: momentum / (1 - momentum));
        return Normalize(bn, y, relu, residual);
    }

    static Tensor Normalize(BatchNorm2d bn, Tensor y, nn.Module<Tensor, Tensor>? relu, Tensor? residual = null) =>
        relu is null ? Plus(bn.call(y), residual) : BatchNormRelu.Forward(bn, y, relu, residual);

    static Tensor Plus(Tensor y, Tensor? residual) => residual is null ? y : y + residual;

    /// <summary>
    /// <paramref name="folded"/> (the pair as one convolution, for inference: <see cref="BatchNormFold"/>) when there is one,
    /// followed by <paramref name="relu"/> if given and not already applied by it (<see cref="FoldedConv.Relu"/>), else
    /// <see cref="Forward(nn.Module{Tensor, Tensor}, BatchNorm2d, Tensor, nn.Module{Tensor, Tensor}, Tensor)"/>.
    /// </summary>
    public static Tensor Forward(nn.Module<Tensor, Tensor> conv, BatchNorm2d bn, FoldedConv? folded, Tensor x, nn.Module<Tensor, Tensor>? relu = null,
        Tensor? residual = null)
    {
        if (folded is null) return Forward(conv, bn, x, relu, residual);
        if (folded.Relu && relu is null)
            throw new InvalidOperationException("a folded convolution with its ReLU ran where no ReLU follows the pair");
        return Plus(relu is null || folded.Relu ? folded.call(x) : relu.call(folded.call(x)), residual);
    }

    /// <summary>
    /// <paramref name="sequence"/>'s children applied in order, each (convolution, BatchNorm2d) pair of consecutive
    /// children, with the ReLU that follows it if one does, through
    /// <see cref="Forward(nn.Module{Tensor, Tensor}, BatchNorm2d, Tensor, nn.Module{Tensor, Tensor}, Tensor)"/>.
    /// </summary>
    public static Tensor Sequence(Sequential sequence, Tensor x)
    {
        var children = sequence.named_children().Select(c => (nn.Module<Tensor, Tensor>)c.module).ToList();
        for (int i = 0; i < children.Count; i++)
        {
            if (i + 1 < children.Count && children[i + 1] is BatchNorm2d bn)
            {
                var relu = i + 2 < children.Count && children[i + 2] is ReLU r ? r : null;
                x = Forward(children[i], bn, x, relu);
                i += relu is null ? 1 : 2;
            }
            else
                x = children[i].call(x);
        }
        return x;
    }

    /// <summary>
    /// <paramref name="folded"/> (the sequence with its batch norms folded in, for inference: <see cref="BatchNormFold"/>)
    /// when there is one, else <see cref="Sequence(Sequential, Tensor)"/>.
    /// </summary>
    public static Tensor Sequence(Sequential sequence, Sequential? folded, Tensor x) =>
        folded is not null ? folded.call(x) : Sequence(sequence, x);
}
