using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// An nn.Conv2d and the BatchNorm2d after it as one convolution, for inference (<see cref="BatchNormFold"/>). The
/// folded weight and bias are non-persistent buffers: they follow the model across devices but stay out of its state
/// dict, which keeps the official names and values. Built from an evaluation-mode BN's running statistics, it refuses to
/// run once that BN is back in training mode (the batch statistics would be ignored silently). With <see cref="Relu"/> it
/// also applies the ReLU that follows the pair (a module without state, so the state dict is the same): on CUDA without
/// an autograd graph the convolution then leaves its bias to one in-place bias + ReLU pass (<see cref="BiasRelu"/>).
/// </summary>
public sealed class FoldedConv : nn.Module<Tensor, Tensor>
{
    readonly BatchNorm2d replaced;
    readonly long[] stride, padding, dilation;
    readonly long groups;

    /// <summary>Whether the ReLU after the pair is applied here (the module that followed it is then left out).</summary>
    public bool Relu { get; }

    /// <param name="relu">Apply the ReLU that follows the pair too.</param>
    public FoldedConv(Conv2d conv, BatchNorm2d bn, bool relu = false) : base(nameof(FoldedConv))
    {
        Relu = relu;
        if (!BatchNormFold.ZeroPadded(conv))
            throw new NotSupportedException(
                $"batch-norm folding: a convolution padded by {conv.padding_type}/{conv.padding_mode}; only explicit zero padding is folded");
        replaced = bn;
        (stride, padding, dilation, groups) = (conv.stride, conv.padding!, conv.dilation, conv.groups);
        using var _ = no_grad();
        var (w, b) = BatchNormFold.Folded(conv.weight!, conv.bias, bn);
        // The original weight's strides (channels_last after the trainer's or bench's layout change), dtype and device.
        var weight = empty_strided(conv.weight!.shape, conv.weight.stride(), dtype: conv.weight.dtype, device: conv.weight.device).copy_(w);
        register_buffer("weight", weight, persistent: false);
        register_buffer("bias", b.to(conv.weight.dtype), persistent: false);
    }

    // The buffers are registered (non-persistent) in the constructor; the field-name registration is not wanted.
    protected override void RegisterComponents() { }

    public override Tensor forward(Tensor x)
    {
        if (replaced.training)
            throw new InvalidOperationException(
                "a convolution with its batch norm folded in ran in training mode; fold only models used for inference");
        var (weight, bias) = (get_buffer("weight")!, get_buffer("bias")!);
        if (Relu && BiasRelu.Fuses(x)) return BiasRelu.InPlace(FusedConv3x3.Forward(x, weight, null, stride, padding, dilation, groups), bias);
        var y = FusedConv3x3.Forward(x, weight, bias, stride, padding, dilation, groups);
        return !Relu ? y : y.requires_grad ? y.relu() : y.relu_();
    }
}
