using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;
using A = UKan.Export.OnnxWire.Attribute;

namespace UKan.Export;

/// <summary>
/// Emitters for the plain layers of the U-KAN skeleton: convolution (with a following BatchNorm folded into it),
/// LayerNorm, nn.Linear, the base activations, max-pool and bilinear upsampling. Each takes the name of its input value
/// and returns the name of its output; weights are read from the module as it is (evaluation mode).
/// </summary>
public static class OnnxLayers
{
    /// <summary>
    /// A convolution (nn.Conv2d or ALL U-KAN's KAonv) and, when given, the BatchNorm2d after it, folded in:
    /// BN(conv(x)) = conv(x; W·s) + (b − μ)·s + β with s = γ/√(σ² + ε) per output channel (evaluation-mode BN uses its
    /// running statistics, so this is exact up to float rounding).
    /// </summary>
    public static string Conv(OnnxGraphBuilder g, nn.Module conv, string x, BatchNorm2d? bn, string name)
    {
        switch (conv)
        {
            case Conv2d c:
                if (!BatchNormFold.ZeroPadded(c))
                    throw new NotSupportedException($"ONNX export: {name} pads by {c.padding_type}/{c.padding_mode}; only explicit zero padding is written");
                return ConvNode(g, x, c.weight, c.bias, bn, name, Two(c.stride), Two(c.padding!), Two(c.dilation), c.groups);
            case KaConv2d ka:
            {
                // Y = conv2d(ψ(X), Λ, b): ψ first (after zero padding when the padding goes before ψ).
                var geometry = ka.Geometry;
                long pad = geometry.Padding;
                if (ka.PaddingMode == KaPadding.BeforeActivation && pad > 0)
                {
                    x = g.Op("Pad", [x, g.Ints(0, 0, pad, pad, 0, 0, pad, pad)], A.Text("mode", "constant"));
                    pad = 0;
                }
                var psi = OnnxKan.SharedActivation(g, ka.Activation, x);
                return ConvNode(g, psi, ka.Weight, ka.Bias, bn, name, [geometry.Stride, geometry.Stride], [pad, pad],
                    [geometry.Dilation, geometry.Dilation], geometry.Groups);
            }
            default:
                throw new UserError($"ONNX export: {name} is a {conv.GetType().Name}, which the exporter cannot write " +
                                    "(the stacked-KAN baseline's KAN convolutions are not exportable); export a ukan or allukan model.");
        }
    }

    static string ConvNode(OnnxGraphBuilder g, string x, Tensor weight, Tensor? bias, BatchNorm2d? bn, string name,
        long[] stride, long[] padding, long[] dilation, long groups)
    {
        using var scope = NewDisposeScope();
        var (w, b) = bn is not null
            ? BatchNormFold.Folded(weight, bias, bn)
            : (weight.detach().to(float64), bias?.detach().to(float64) ?? zeros(weight.shape[0], dtype: float64));
        long k0 = w.shape[2], k1 = w.shape[3];
        return g.Op("Conv", [x, g.Weight(name + ".weight", w), g.Weight(name + ".bias", b)],
            A.Ints("kernel_shape", k0, k1), A.Ints("strides", stride), A.Ints("pads", padding[0], padding[1], padding[0], padding[1]),
            A.Ints("dilations", dilation), A.Int("group", groups));
    }

    // TorchSharp keeps a square kernel's stride, padding and dilation as one number or two.
    static long[] Two(long[] v) => v.Length == 1 ? [v[0], v[0]] : v;

    /// <summary>LayerNorm over the last axis: LayerNormalization (opset 17).</summary>
    public static string LayerNorm(OnnxGraphBuilder g, LayerNorm norm, string x, string name)
    {
        if (norm.normalized_shape.Length != 1) throw new NotSupportedException("ONNX export: LayerNorm over more than one axis");
        var scale = g.Weight(name + ".weight", norm.weight);
        var bias = norm.bias is null ? g.Floats([norm.normalized_shape[0]], new float[norm.normalized_shape[0]]) : g.Weight(name + ".bias", norm.bias);
        return g.Op("LayerNormalization", [x, scale, bias], A.Int("axis", -1), A.Real("epsilon", (float)norm.eps));
    }

    /// <summary>nn.Linear on the last axis: x·Wᵀ + b (MatMul broadcasts over the leading axes).</summary>
    public static string Linear(OnnxGraphBuilder g, Linear linear, string x, string name)
    {
        var y = g.MatMul(x, g.Weight(name + ".weight_t", linear.weight.t()));
        return linear.bias is null ? y : g.Add(y, g.Weight(name + ".bias", linear.bias));
    }

    /// <summary>
    /// The base activations of KanLinear and ψ (<see cref="BaseActivations.Apply"/>). Opset 17 has no SiLU or GELU
    /// operator: SiLU(x) = x·σ(x); GELU is the exact (erf) form PyTorch's default computes, x·(1 + erf(x/√2))/2.
    /// </summary>
    public static string Activation(OnnxGraphBuilder g, BaseActivation kind, string x) => kind switch
    {
        BaseActivation.SiLU => g.Mul(x, g.Op("Sigmoid", [x])),
        BaseActivation.Identity => x,
        BaseActivation.ReLU => g.Relu(x),
        BaseActivation.GELU => g.Mul(g.Mul(x, g.Scalar(0.5f)), g.Add(g.Op("Erf", [g.Div(x, g.Scalar((float)Math.Sqrt(2)))]), g.Scalar(1f))),
        BaseActivation.Tanh => g.Op("Tanh", [x]),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// A module made of plain layers, in its order: a Sequential or <see cref="DoubleConv"/> (recursively), a convolution
    /// with the BatchNorm2d that follows it folded in (<see cref="Conv"/>), ReLU, Identity, Sigmoid, 2×2 max-pool and
    /// nearest ×2 upsampling. <paramref name="path"/> is the module's state-dict prefix (the weights' names).
    /// </summary>
    public static string Modules(OnnxGraphBuilder g, nn.Module module, string x, string path)
    {
        if (module is not (Sequential or DoubleConv)) return Layer(g, module, null, x, path);
        var children = module.named_children().ToList();
        for (int i = 0; i < children.Count; i++)
        {
            var (key, child) = children[i];
            var bn = i + 1 < children.Count ? children[i + 1].module as BatchNorm2d : null;
            x = child switch
            {
                BatchNorm2d => x,   // folded into the convolution before it
                Sequential or DoubleConv => Modules(g, child, x, $"{path}.{key}"),
                _ => Layer(g, child, bn, x, $"{path}.{key}"),
            };
        }
        return x;
    }

    static string Layer(OnnxGraphBuilder g, nn.Module layer, BatchNorm2d? bn, string x, string name) => layer switch
    {
        ReLU => g.Relu(x),
        Identity => x,
        Sigmoid => g.Op("Sigmoid", [x]),
        MaxPool2d pool when Two(pool.kernel_size).SequenceEqual([2L, 2L]) && Two(pool.stride ?? pool.kernel_size).SequenceEqual([2L, 2L])
            && (pool.padding ?? [0]).All(p => p == 0) && (pool.dilation ?? [1]).All(d => d == 1) && !pool.ceil_mode => MaxPool2(g, x),
        MaxPool2d => throw new NotSupportedException($"ONNX export: {name} is a max-pool other than 2×2 with stride 2"),
        Upsample up => Upsample(g, up, x, name),
        _ => Conv(g, layer, x, bn, name),
    };

    /// <summary>nn.Upsample ×2, nearest: ONNX Resize, nearest mode, asymmetric coordinates, floor (PyTorch's 'nearest').</summary>
    static string Upsample(OnnxGraphBuilder g, Upsample up, string x, string name)
    {
        var scale = up.scale_factor.ToArray();
        if (up.mode != UpsampleMode.Nearest || scale.Length == 0 || scale.Any(s => s != 2))
            throw new NotSupportedException($"ONNX export: {name} upsamples by {up.mode}; only nearest ×2 is written");
        return g.Op("Resize", [x, "", g.Floats([4], 1f, 1f, 2f, 2f)], A.Text("mode", "nearest"),
            A.Text("coordinate_transformation_mode", "asymmetric"), A.Text("nearest_mode", "floor"));
    }

    /// <summary>nn.ConvTranspose2d without padding or groups: ONNX ConvTranspose (weights (in, out, k, k) as PyTorch's).</summary>
    public static string ConvTranspose(OnnxGraphBuilder g, ConvTranspose2d c, string x, string name)
    {
        if (Two(c.padding ?? [0]).Any(p => p != 0) || Two(c.output_padding ?? [0]).Any(p => p != 0) || c.groups != 1
            || Two(c.dilation ?? [1]).Any(d => d != 1))
            throw new NotSupportedException($"ONNX export: {name} is a transposed convolution with padding, groups or dilation");
        var operands = new List<string> { x, g.Weight(name + ".weight", c.weight) };
        if (c.bias is not null) operands.Add(g.Weight(name + ".bias", c.bias));
        return g.Op("ConvTranspose", [.. operands], A.Ints("kernel_shape", c.weight.shape[2], c.weight.shape[3]), A.Ints("strides", Two(c.stride)));
    }

    /// <summary>
    /// Bilinear ×2 with align_corners=True (F.interpolate as U-Net++ upsamples): ONNX Resize, linear mode,
    /// align_corners coordinates (source = dest·(in − 1)/(out − 1)).
    /// </summary>
    public static string Upsample2AlignCorners(OnnxGraphBuilder g, string x) =>
        g.Op("Resize", [x, "", g.Floats([4], 1f, 1f, 2f, 2f)],
            A.Text("mode", "linear"), A.Text("coordinate_transformation_mode", "align_corners"));

    /// <summary>Concatenation along the channels (torch.cat(…, 1)).</summary>
    public static string ConcatChannels(OnnxGraphBuilder g, params string[] maps) => g.Op("Concat", maps, A.Int("axis", 1));

    /// <summary>The child module <paramref name="name"/> of <paramref name="parent"/> (its state-dict name).</summary>
    public static nn.Module Child(nn.Module parent, string name) =>
        parent.named_children().FirstOrDefault(c => c.name == name).module
        ?? throw new InvalidOperationException($"ONNX export: the model has no module {name} where the exporter expects one");

    /// <summary>2×2 max-pool with stride 2 (F.max_pool2d(x, 2, 2)).</summary>
    public static string MaxPool2(OnnxGraphBuilder g, string x) =>
        g.Op("MaxPool", [x], A.Ints("kernel_shape", 2, 2), A.Ints("strides", 2, 2));

    /// <summary>
    /// Bilinear ×2 as F.interpolate(scale_factor 2, align_corners false): ONNX Resize, linear mode, half_pixel
    /// coordinates (source = (dest + ½)/2 − ½, edges clamped), which is PyTorch's align_corners=False mapping.
    /// </summary>
    public static string Upsample2(OnnxGraphBuilder g, string x) =>
        g.Op("Resize", [x, "", g.Floats([4], 1f, 1f, 2f, 2f)],
            A.Text("mode", "linear"), A.Text("coordinate_transformation_mode", "half_pixel"));
}
