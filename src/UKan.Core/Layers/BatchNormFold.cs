using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Folds each BatchNorm2d that directly follows an nn.Conv2d into that convolution for inference, as PyTorch's
/// <c>torch.nn.utils.fusion.fuse_conv_bn_eval</c>, ONNX Runtime and TensorRT do: in evaluation mode BN is a per-channel
/// affine map, so BN(conv(x)) = conv(x; W·s) + (b − μ)·s + β with s = γ/√(σ² + ε), one pass over the feature map where
/// two were. The blocks that pair a conv with a BN (<see cref="IBatchNormFoldable"/>) do the swap; the model's parameters
/// and state dict are untouched, so a folded model still saves official weights (but it must not be trained).
/// </summary>
public static class BatchNormFold
{
    /// <summary>Set to <c>off</c> to run inference without folding (for comparisons).</summary>
    public const string EnvironmentVariable = "UKAN_FOLD_BN";

    /// <summary>Whether the inference paths fold (default on; <see cref="EnvironmentVariable"/>=off turns it off).</summary>
    public static bool Enabled => !EnvironmentSwitch.IsOffIn(EnvironmentVariable);

    /// <summary>
    /// Folds every foldable block of <paramref name="model"/> (which must be in evaluation mode, on its final device and
    /// layout, its weights loaded: the folded copies are taken now). Returns the number of (conv, BN) pairs folded.
    /// </summary>
    public static int Apply(nn.Module model)
    {
        if (model.training) throw new InvalidOperationException("batch-norm folding needs a model in evaluation mode (call eval() first)");
        int folded = 0;
        // named_modules() leaves out the model itself, which may pair convs with BNs too (UNeXt).
        foreach (var module in model.named_modules().Select(m => m.module).Prepend(model).ToList())
            if (module is IBatchNormFoldable block) folded += block.FoldBatchNorm();
        return folded;
    }

    /// <summary>Folds when <see cref="Enabled"/>; the model is put in evaluation mode either way.</summary>
    public static int ApplyForInference(nn.Module model)
    {
        model.eval();
        return Enabled ? Apply(model) : 0;
    }

    /// <summary>
    /// The convolution's weight and bias with the BN after it folded in (float64; <paramref name="bias"/> null counts as
    /// zero): W·s and (b − μ)·s + β per output channel, s = γ/√(σ² + ε).
    /// </summary>
    public static (Tensor Weight, Tensor Bias) Folded(Tensor weight, Tensor? bias, BatchNorm2d bn)
    {
        if (bn.weight is null || bn.bias is null || bn.running_mean is null || bn.running_var is null)
            throw new NotSupportedException("batch-norm folding: a BatchNorm without affine parameters or running statistics");
        var w = weight.detach().to(float64);
        var b = bias?.detach().to(float64) ?? zeros(w.shape[0], dtype: float64, device: w.device);
        var s = bn.weight.detach().to(float64) / (bn.running_var.to(float64) + bn.eps).sqrt();
        return (w * s.reshape(-1, 1, 1, 1), (b - bn.running_mean.to(float64)) * s + bn.bias.detach().to(float64));
    }

    /// <summary>
    /// Whether <paramref name="conv"/> pads with explicit zeros (no padding string, zeros mode): the convolution that
    /// F.conv2d redoes from its weight, stride, padding, dilation and groups, which the fold, the training shortcut of
    /// <see cref="ConvBatchNorm"/> and the ONNX exporter write as one plain convolution.
    /// </summary>
    public static bool ZeroPadded(Conv2d conv) => conv.padding_type is null && conv.padding_mode == PaddingModes.Zeros;

    /// <summary>
    /// A folded convolution when <paramref name="conv"/> is a zero-padded nn.Conv2d (<see cref="ZeroPadded"/>), else null:
    /// the pair stays as it is. <paramref name="relu"/>: it also applies the ReLU that follows the pair.
    /// </summary>
    public static FoldedConv? Pair(nn.Module conv, BatchNorm2d bn, bool relu = false) =>
        conv is Conv2d c && ZeroPadded(c) ? new FoldedConv(c, bn, relu) : null;

    /// <summary>
    /// <paramref name="sequence"/> with each (nn.Conv2d, BatchNorm2d) pair of consecutive children replaced by one folded
    /// convolution, which also takes the nn.ReLU right after the pair if there is one (see <see cref="FoldedConv.Relu"/>),
    /// and the other children shared; or null when no pair was folded.
    /// </summary>
    public static Sequential? Sequence(Sequential sequence, out int folded)
    {
        var children = sequence.named_children().ToList();
        var result = new List<(string, nn.Module<Tensor, Tensor>)>();
        folded = 0;
        for (int i = 0; i < children.Count; i++)
        {
            var (name, child) = children[i];
            bool relu = i + 2 < children.Count && children[i + 2].module is ReLU;
            if (i + 1 < children.Count && children[i + 1].module is BatchNorm2d bn && Pair(child, bn, relu) is { } conv)
            {
                result.Add((name, conv));
                folded++;
                i += relu ? 2 : 1;
                continue;
            }
            result.Add((name, (nn.Module<Tensor, Tensor>)child));
        }
        return folded > 0 ? nn.Sequential(result.ToArray()) : null;
    }

    /// <summary>
    /// Sets <paramref name="folded"/> to the folded <paramref name="sequence"/> (<see cref="Sequence"/>) and registers it
    /// with <paramref name="register"/> (so that it follows the model's device and mode), unless already folded.
    /// Returns the number of pairs folded.
    /// </summary>
    public static int Once(Sequential sequence, ref Sequential? folded, Action<Sequential> register)
    {
        if (folded is not null) return 0;
        folded = Sequence(sequence, out int pairs);
        if (folded is not null) register(folded);
        return pairs;
    }
}
