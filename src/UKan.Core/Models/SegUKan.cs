using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Models;

/// <summary>
/// Seg U-KAN: "U-KAN Makes Strong Backbone for Medical Image Segmentation and Generation", Li et al., AAAI 2025
/// (arXiv 2406.02918). Mirrors class <c>UKAN</c> of CUHK-AIM-Group/U-KAN <c>Seg_UKAN/archs.py</c> @ b20bf63;
/// state-dict keys are identical, so official <c>model.pth</c> files load 1:1.
/// </summary>
/// <remarks>
/// A U-Net whose three convolutional encoder stages (ConvLayer + max-pool) are followed by two tokenized KAN
/// stages (PatchEmbed + KANBlock + LayerNorm) at 1/16 and 1/32 resolution; the decoder mirrors them (D_ConvLayer,
/// bilinear ×2, additive skips, two tokenized KAN blocks) and a 1×1 conv gives per-pixel logits.
/// Departures from the official code:
/// <list type="bullet">
/// <item><c>InChannels</c> is honoured (the reference hard-codes 3 in encoder1).</item>
/// <item>The MLP ablation (<see cref="TokenMixer.Mlp"/>) really uses nn.Linear(C, C) with bias (2,764,561 parameters for
/// the paper dims); the official <c>--no_kan</c> flag never reaches the blocks, so the official "MLP" numbers come from
/// the KAN model. Train the KAN preset to reproduce the official behaviour.</item>
/// <item>The unused <c>deep_supervision</c>, <c>img_size</c>, <c>patch_size</c>, <c>drop_rate</c> arguments are dropped;
/// depths are fixed at one block per stage as in the reference.</item>
/// <item>Skeleton and layers are built through <see cref="ConvFactory"/> / <see cref="LinearFactory"/> seams so that ALL U-KAN
/// and the stacked-KAN baseline reuse this file (<see cref="AllUKan"/>, <see cref="StackedKan"/>).</item>
/// <item>In training, the convolutions whose output goes into a BatchNorm2d (both of each ConvLayer and D_ConvLayer, and
/// the depthwise one of each DW_bn_relu: 28 pairs) run without their bias, and the running mean receives the bias's
/// share afterwards (<see cref="ConvBatchNorm"/>). The batch mean removes a per-channel bias exactly, so outputs, running
/// statistics and evaluation-mode results are the official ones up to float rounding; what differs is that these biases
/// get no gradient instead of the official code's rounding noise (docs/models.md). On CUDA by default (the CPU keeps the
/// official computation unless <c>UKAN_BIAS_BEFORE_BN=dropped</c>); <c>UKAN_BIAS_BEFORE_BN=official</c> restores it there; ALL U-KAN's and the stacked KAN's convolutions always keep it.</item>
/// </list>
/// Input height and width must be multiples of 32 (five halvings).
/// </remarks>
public sealed class SegUKan : nn.Module<Tensor, Tensor>, ISegmentationModel
{
    private readonly DoubleConv encoder1, encoder2, encoder3;
    private readonly PatchEmbed patch_embed3, patch_embed4;
    private readonly ModuleList<KanBlock> block1, block2, dblock1, dblock2;
    private readonly LayerNorm norm3, norm4, dnorm3, dnorm4;
    private readonly DoubleConv decoder1, decoder2, decoder3, decoder4, decoder5;
    private readonly nn.Module<Tensor, Tensor> final;

    public ModelSpec Spec { get; }
    /// <summary>Whether the skeleton's ReLUs are in place (<see cref="SkeletonOptions.Relu"/>).</summary>
    public bool UsesRelu => relu;
    readonly bool relu;

    /// <summary>The stages the reference's <c>_init_weights</c> runs on (PatchEmbed, KANBlock and what they contain).</summary>
    public static readonly IReadOnlyList<string> OfficialInitStages = ["patch_embed3", "patch_embed4", "block1", "block2", "dblock1", "dblock2"];

    public SegUKan(ModelSpec spec, ConvFactory conv, LinearFactory linear, bool officialInit = true, SkeletonOptions? skeleton = null)
        : base(nameof(SegUKan))
    {
        Spec = spec;
        skeleton ??= SkeletonOptions.UKan;
        relu = skeleton.Relu;
        var (d0, d1, d2) = (spec.EmbedDims[0], spec.EmbedDims[1], spec.EmbedDims[2]);
        if (d0 % 8 != 0) throw new UserError($"embed dims {string.Join(',', spec.EmbedDims)}: the first must be a multiple of 8 (the encoder uses d0/8 and d0/4 channels).");
        // Every top-level stage is announced before it is built (ALL U-KAN shares ψ per stage through this).
        T Stage<T>(string name, Func<T> build)
        {
            skeleton.BeginStage?.Invoke(name);
            return build();
        }

        encoder1 = Stage(nameof(encoder1), () => DoubleConv.Encoder(spec.InChannels, d0 / 8, conv, relu));
        encoder2 = Stage(nameof(encoder2), () => DoubleConv.Encoder(d0 / 8, d0 / 4, conv, relu));
        encoder3 = Stage(nameof(encoder3), () => DoubleConv.Encoder(d0 / 4, d0, conv, relu));

        norm3 = nn.LayerNorm(d1);
        norm4 = nn.LayerNorm(d2);
        dnorm3 = nn.LayerNorm(d1);
        dnorm4 = nn.LayerNorm(d0);

        patch_embed3 = Stage(nameof(patch_embed3), () => new PatchEmbed(d0, d1, conv));
        patch_embed4 = Stage(nameof(patch_embed4), () => new PatchEmbed(d1, d2, conv));
        block1 = Stage(nameof(block1), () => nn.ModuleList(new KanBlock(d1, linear, conv, relu)));
        block2 = Stage(nameof(block2), () => nn.ModuleList(new KanBlock(d2, linear, conv, relu)));
        dblock1 = Stage(nameof(dblock1), () => nn.ModuleList(new KanBlock(d1, linear, conv, relu)));
        dblock2 = Stage(nameof(dblock2), () => nn.ModuleList(new KanBlock(d0, linear, conv, relu)));

        decoder1 = Stage(nameof(decoder1), () => DoubleConv.Decoder(d2, d1, conv, relu));
        decoder2 = Stage(nameof(decoder2), () => DoubleConv.Decoder(d1, d0, conv, relu));
        decoder3 = Stage(nameof(decoder3), () => DoubleConv.Decoder(d0, d0 / 4, conv, relu));
        decoder4 = Stage(nameof(decoder4), () => DoubleConv.Decoder(d0 / 4, d0 / 8, conv, relu));
        decoder5 = Stage(nameof(decoder5), () => DoubleConv.Decoder(d0 / 8, d0 / 8, conv, relu));
        final = Stage(nameof(final), () => conv(d0 / 8, spec.NumClasses, 1, 1, 0, 1));
        RegisterComponents();

        if (officialInit) OfficialInit.ApplyToStages(this, OfficialInitStages);
    }

    public override Tensor forward(Tensor x)
    {
        SegmentationInput.Require(x, 32, "U-KAN");
        using var scope = NewDisposeScope();
        // On the GPU the twelve KANLinear weights are assembled in one launch (and their gradients split in one).
        using var kanWeights = KanWeightBatch.Assemble(KanLayers);
        // Encoder: three conv stages, each halving the resolution.
        var t1 = Pool(encoder1.call(x));
        var t2 = Pool(encoder2.call(t1));
        var t3 = Pool(encoder3.call(t2));

        // Tokenized KAN stages at 1/16 and 1/32.
        var t4 = TokenStages.Embedded(patch_embed3, block1, norm3, t3);
        var bottom = TokenStages.Embedded(patch_embed4, block2, norm4, t4);

        // Decoder: upsample and add the skip; the first two stages also run the mirrored KAN blocks.
        var d = Up(decoder1, bottom, t4);
        d = TokenStages.InPlace(dblock1, dnorm3, d);
        d = Up(decoder2, d, t3);
        d = TokenStages.InPlace(dblock2, dnorm4, d);
        d = Up(decoder3, d, t2);
        d = Up(decoder4, d, t1);
        // The last upsampling and the head: one fused node on the GPU (UpsampleReluHead), the full-resolution map unformed.
        var head = relu ? UpsampleReluHead.Forward(decoder5.call(d), final) : final.call(BilinearUpsample.Twice(decoder5.call(d)));
        return head.MoveToOuterDisposeScope();
    }

    KanLinear[]? kanLayers;
    KanLinear[] KanLayers => kanLayers ??= [.. modules().OfType<KanLinear>()];

    /// <summary>The decoder stage, upsampled (and its ReLU), plus the skip: one fused node on the GPU (UpsampleRelu).</summary>
    Tensor Up(DoubleConv decoder, Tensor x, Tensor skip) =>
        relu ? UpsampleRelu.Forward(decoder.call(x), skip) : BilinearUpsample.Twice(decoder.call(x)) + skip;

    Tensor Pool(Tensor x) => relu ? MaxPoolRelu.Forward(x) : F.max_pool2d(x, 2, 2);
}

/// <summary>Variations of the U-KAN skeleton needed by the architectures built on it; the defaults are U-KAN's.</summary>
public sealed record SkeletonOptions
{
    /// <summary>
    /// True: U-KAN's ReLUs (after every BN, after each max-pool and each upsampling). False drops all of them, for ALL
    /// U-KAN's ablation (docs/allukan.md §R.6, §R.10): ψ of the next layer is then the nonlinearity. The pool and upsample
    /// ReLUs act on the outputs of ReLUs in U-KAN (and are no-ops there), so dropping only the BN ReLUs would change nothing.
    /// </summary>
    public bool Relu { get; init; } = true;
    /// <summary>Called with each top-level stage's state-dict name (encoder1 … final) just before it is built.</summary>
    public Action<string>? BeginStage { get; init; }

    public static SkeletonOptions UKan { get; } = new();
}
