using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The tokenized KAN stage of U-KAN (Li et al., AAAI 2025, §3.2; CUHK-AIM-Group/U-KAN <c>Seg_UKAN/archs.py</c>:
/// <c>PatchEmbed</c>, <c>DW_bn_relu</c>, <c>KANLayer</c>, <c>KANBlock</c>). Field names give the official keys
/// (<c>patch_embed3.proj</c>, <c>block1.0.norm2</c>, <c>block1.0.layer.fc1</c>, <c>...dwconv_1.dwconv</c>, <c>...dwconv_1.bn</c>).
/// </summary>
/// <remarks>Tokens are (B, N, C) with N = H·W in row-major order, as <c>flatten(2).transpose(1, 2)</c> makes them.</remarks>
public static class TokenMaps
{
    /// <summary>(B, C, H, W) → (B, H·W, C).</summary>
    public static Tensor ToTokens(Tensor map) => map.flatten(2).transpose(1, 2);

    /// <summary>
    /// (B, H·W, C) → (B, C, H, W): reshape(B, H, W, C).permute(0, 3, 1, 2), which is already a channels-last map of the
    /// tokens' memory. When <paramref name="layoutOf"/> (the map the stage started from) is channels-last, as in our
    /// training on CUDA, that view is returned as it is; otherwise an NCHW copy, as the reference's <c>.contiguous()</c>
    /// makes. (The copy
    /// in channels-last training cost the copy itself, and cuDNN then ran the next convolution on NCHW input against
    /// channels-last weights: generic float32 kernels and layout conversions, about 60 µs of an H200's 256² step for
    /// the bottleneck's patch embedding alone.)
    /// </summary>
    public static Tensor ToMap(Tensor tokens, long h, long w, Tensor? layoutOf = null)
    {
        var map = tokens.reshape(tokens.shape[0], h, w, -1).permute(0, 3, 1, 2);
        return layoutOf is not null && TensorLayout.DenseChannelsLast(layoutOf) == true ? map : map.contiguous();
    }
}

/// <summary>Overlapping patch embedding: 3×3 conv with stride 2 (halves H and W), flattened to tokens, LayerNorm.</summary>
public sealed class PatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> proj;
    private readonly LayerNorm norm;

    public PatchEmbed(int inChannels, int embedDim, ConvFactory conv, int patchSize = 3, int stride = 2) : base(nameof(PatchEmbed))
    {
        proj = conv(inChannels, embedDim, patchSize, stride, patchSize / 2, 1);
        norm = nn.LayerNorm(embedDim);
        RegisterComponents();
    }

    /// <summary>Tokens and the grid size they came from.</summary>
    public (Tensor Tokens, long H, long W) Embed(Tensor x)
    {
        // In training where the fused LayerNorm may run, the projection runs without its bias and the LayerNorm kernels add it as
        // they load the tokens (LayerNorm(conv(x) + b), the same sum): no broadcast add forward, and b's gradient comes
        // with the LayerNorm's own instead of a reduction over the tokens.
        var conv = training && proj is Conv2d { bias: not null } c && BatchNormFold.ZeroPadded(c) && FusedLayerNorm.TakesBiasBefore(x) ? c : null;
        var map = conv is null ? proj.call(x) : FusedConv3x3.Forward(x, conv.weight!, null, conv.stride, conv.padding!, conv.dilation, conv.groups);
        long h = map.shape[2], w = map.shape[3];
        return (FusedLayerNorm.Forward(norm, TokenMaps.ToTokens(map), conv?.bias), h, w);
    }

    public override Tensor forward(Tensor x) => Embed(x).Tokens;
}

/// <summary>Depthwise 3×3 conv → BN → ReLU applied to tokens viewed as a map (the reference's DW_bn_relu).</summary>
public sealed class DwBnRelu : nn.Module<Tensor, long, long, Tensor>, IBatchNormFoldable
{
    private readonly nn.Module<Tensor, Tensor> dwconv;
    private readonly BatchNorm2d bn;
    private FoldedConv? folded;
    readonly bool relu;

    /// <param name="relu">False drops the ReLU (ALL U-KAN's drop-ReLU option).</param>
    public DwBnRelu(int dim, ConvFactory conv, bool relu = true) : base(nameof(DwBnRelu))
    {
        dwconv = conv(dim, dim, 3, 1, 1, dim);
        bn = nn.BatchNorm2d(dim);
        this.relu = relu;
        RegisterComponents();
    }

    public int FoldBatchNorm()
    {
        if (folded is not null || BatchNormFold.Pair(dwconv, bn, relu) is not { } conv) return 0;
        register_module("folded", folded = conv);
        return 1;
    }

    public override Tensor forward(Tensor tokens, long h, long w) => Forward(tokens, h, w, null);

    /// <summary>
    /// The layer on <paramref name="tokens"/>, plus <paramref name="residual"/> (tokens of the same shape) if given: added
    /// by the fused batch norm + ReLU node as it writes its output where it takes it, else after.
    /// </summary>
    public Tensor Forward(Tensor tokens, long h, long w, Tensor? residual)
    {
        var b = tokens.shape[0];
        var c = tokens.shape[2];
        var map = tokens.transpose(1, 2).reshape(b, c, h, w);
        // The residual tokens (B, H·W, C) viewed as the output map: channels-last where they are contiguous, as the
        // batch norm's output is in training on the GPU.
        var residualMap = residual?.reshape(b, h, w, c).permute(0, 3, 1, 2);
        return TokenMaps.ToTokens(ConvBatchNorm.Forward(dwconv, bn, folded, map, relu ? BatchNormRelu.Relu : null, residualMap));
    }
}

/// <summary>
/// KANLayer: fc1 → dwconv_1 → fc2 → dwconv_2 → fc3 → dwconv_3, each fc applied to the (B·N, C) token rows.
/// With <see cref="KanLinear"/> this is U-KAN's KAN layer; with nn.Linear it is the MLP ablation the paper compares
/// with (the official <c>no_kan</c> flag never reaches this class, so the official "MLP" model is still KAN).
/// </summary>
public sealed class KanLayer : nn.Module<Tensor, long, long, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> fc1, fc2, fc3;
    private readonly DwBnRelu dwconv_1, dwconv_2, dwconv_3;

    public KanLayer(int dim, LinearFactory linear, ConvFactory conv, bool relu = true) : base(nameof(KanLayer))
    {
        fc1 = linear(dim, dim);
        fc2 = linear(dim, dim);
        fc3 = linear(dim, dim);
        dwconv_1 = new DwBnRelu(dim, conv, relu);
        dwconv_2 = new DwBnRelu(dim, conv, relu);
        dwconv_3 = new DwBnRelu(dim, conv, relu);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, long h, long w) => Forward(x, h, w, null);

    /// <summary>The layer, plus <paramref name="residual"/> if given (added by its last batch norm: <see cref="DwBnRelu.Forward"/>).</summary>
    public Tensor Forward(Tensor x, long h, long w, Tensor? residual)
    {
        x = Tokenwise(fc1, x);
        x = dwconv_1.call(x, h, w);
        x = Tokenwise(fc2, x);
        x = dwconv_2.call(x, h, w);
        x = Tokenwise(fc3, x);
        return dwconv_3.Forward(x, h, w, residual);
    }

    static Tensor Tokenwise(nn.Module<Tensor, Tensor> fc, Tensor x)
    {
        long b = x.shape[0], n = x.shape[1], c = x.shape[2];
        var y = fc.call(x.reshape(b * n, c));
        return y.reshape(b, n, y.shape[1]);
    }
}

/// <summary>
/// KANBlock: x + KANLayer(LayerNorm(x)) (drop-path rate 0 in U-KAN, so no drop path). The addition is done by the layer's
/// last batch norm + ReLU node on the GPU in training (one pass over the tokens fewer), else after it.
/// </summary>
public sealed class KanBlock : nn.Module<Tensor, long, long, Tensor>
{
    private readonly LayerNorm norm2;
    private readonly KanLayer layer;

    public KanBlock(int dim, LinearFactory linear, ConvFactory conv, bool relu = true) : base(nameof(KanBlock))
    {
        norm2 = nn.LayerNorm(dim);
        layer = new KanLayer(dim, linear, conv, relu);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, long h, long w)
    {
        // Where the fused batch norm + ReLU may add it (the GPU), the residual goes into the layer; elsewhere x + layer(…)
        // as before, the same values and layouts.
        var residual = BatchNormRelu.MayTakeResidual(x) ? x : null;
        var y = layer.Forward(FusedLayerNorm.Forward(norm2, x), h, w, residual);
        return residual is null ? x + y : y;
    }
}
