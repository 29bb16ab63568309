using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>
/// UNeXt: "UNeXt: MLP-based Rapid Medical Image Segmentation Network", Valanarasu and Patel, MICCAI 2022
/// (arXiv 2203.04967), as class <c>UNext</c> of jeya-maria-jose/UNeXt-pytorch <c>archs.py</c>
/// @ 5106d6b9a8004ef7055051caa8ee5379ab44525c: 1,471,921 parameters for 3 inputs, 1 class and its default embed dims
/// [128,160,256] (the paper's and U-KAN's Table 1's 1.47 M).
/// </summary>
/// <remarks>
/// U-KAN's skeleton is UNeXt's: three conv stages at d0/8, d0/4, d0 channels with max-pool, two tokenized stages at 1/16
/// and 1/32 (PatchEmbed + block + LayerNorm), a decoder that mirrors them with additive skips, bilinear ×2 and two
/// tokenized blocks, and a 1×1 head. They differ in the stages: UNeXt's conv stages are one 3×3 conv → BN (U-KAN: two
/// conv → BN → ReLU), its last decoder conv has no BN, and its blocks are shifted MLPs (<see cref="ShiftedMlpBlock"/>:
/// shift along H, fc, depthwise conv, GELU, shift along W, fc) where U-KAN has three KANLinear each followed by
/// depthwise conv → BN → ReLU. The patch embeddings (<see cref="PatchEmbed"/>), the token plumbing
/// (<see cref="TokenStages"/>) and the initialisation of the tokenized stages (<see cref="OfficialInit"/>, the same
/// <c>_init_weights</c>) are shared with <see cref="SegUKan"/>. Keys are the reference's (<c>encoder1</c>, <c>ebn1</c>,
/// <c>patch_embed3.proj</c>, <c>block1.0.mlp.fc1</c>, <c>block1.0.mlp.dwconv.dwconv</c>, <c>dbn1</c>, <c>final</c>).
/// Departures from the reference:
/// <list type="bullet">
/// <item><c>InChannels</c> is honoured (the reference hard-codes 3) and the channel plan follows the embed dims as U-KAN's
/// does (d0/8, d0/4, d0, d1, d2; the reference hard-codes 16, 32 and the decoder widths for [128,160,256]), so
/// --preset and --embed-dims size it like U-KAN.</item>
/// <item>The unused <c>softmax</c> member and arguments (heads, ratios, drop rates: all inactive) are left out.</item>
/// <item>Training runs each convolution that feeds a BatchNorm2d without its bias (<see cref="ConvBatchNorm"/>, docs/models.md):
/// the same function, but those biases get no gradient instead of rounding noise; on CUDA by default (<c>UKAN_BIAS_BEFORE_BN=official</c> adds them; <c>=dropped</c> also on the CPU).</item>
/// </list>
/// Under U-KAN's training recipe no UNeXt parameter is in the "KAN" learning-rate group (names with 'layer' and 'fc'),
/// as in the official script. Input height and width must be multiples of 32.
/// </remarks>
public sealed class UNext : nn.Module<Tensor, Tensor>, ISegmentationModel, IBatchNormFoldable
{
    private readonly Conv2d encoder1, encoder2, encoder3;
    private readonly BatchNorm2d ebn1, ebn2, ebn3;
    private readonly LayerNorm norm3, norm4, dnorm3, dnorm4;
    private readonly ModuleList<ShiftedMlpBlock> block1, block2, dblock1, dblock2;
    private readonly PatchEmbed patch_embed3, patch_embed4;
    private readonly Conv2d decoder1, decoder2, decoder3, decoder4, decoder5;
    private readonly BatchNorm2d dbn1, dbn2, dbn3, dbn4;
    private readonly Conv2d final;
    /// <summary>Each conv → BN pair as one convolution, once folded for inference (null until then).</summary>
    private Dictionary<Conv2d, FoldedConv>? folded;

    public ModelSpec Spec { get; }

    public UNext(ModelSpec spec) : base(nameof(UNext))
    {
        Spec = spec;
        var (d0, d1, d2) = (spec.EmbedDims[0], spec.EmbedDims[1], spec.EmbedDims[2]);
        if (d0 % 8 != 0) throw new UserError($"embed dims {string.Join(',', spec.EmbedDims)}: the first must be a multiple of 8 (the encoder uses d0/8 and d0/4 channels).");
        static Conv2d Conv3(int i, int o) => nn.Conv2d(i, o, 3, padding: 1, bias: true);

        encoder1 = Conv3(spec.InChannels, d0 / 8);
        encoder2 = Conv3(d0 / 8, d0 / 4);
        encoder3 = Conv3(d0 / 4, d0);
        ebn1 = nn.BatchNorm2d(d0 / 8);
        ebn2 = nn.BatchNorm2d(d0 / 4);
        ebn3 = nn.BatchNorm2d(d0);

        norm3 = nn.LayerNorm(d1);
        norm4 = nn.LayerNorm(d2);
        dnorm3 = nn.LayerNorm(d1);
        dnorm4 = nn.LayerNorm(d0);

        block1 = nn.ModuleList(new ShiftedMlpBlock(d1));
        block2 = nn.ModuleList(new ShiftedMlpBlock(d2));
        dblock1 = nn.ModuleList(new ShiftedMlpBlock(d1));
        dblock2 = nn.ModuleList(new ShiftedMlpBlock(d0));

        patch_embed3 = new PatchEmbed(d0, d1, ConvFactories.Conv2d);
        patch_embed4 = new PatchEmbed(d1, d2, ConvFactories.Conv2d);

        decoder1 = Conv3(d2, d1);
        decoder2 = Conv3(d1, d0);
        decoder3 = Conv3(d0, d0 / 4);
        decoder4 = Conv3(d0 / 4, d0 / 8);
        decoder5 = Conv3(d0 / 8, d0 / 8);
        dbn1 = nn.BatchNorm2d(d1);
        dbn2 = nn.BatchNorm2d(d0);
        dbn3 = nn.BatchNorm2d(d0 / 4);
        dbn4 = nn.BatchNorm2d(d0 / 8);

        final = nn.Conv2d(d0 / 8, spec.NumClasses, 1, bias: true);
        RegisterComponents();
        // The tokenized stages apply _init_weights as U-KAN's do (the same stage names).
        OfficialInit.ApplyToStages(this, SegUKan.OfficialInitStages);
    }

    public override Tensor forward(Tensor x)
    {
        SegmentationInput.Require(x, 32, "UNeXt");
        using var scope = NewDisposeScope();
        // Encoder: conv → BN → max-pool → ReLU, three times.
        var t1 = MaxPoolRelu.Forward(ConvBn(encoder1, ebn1, x));
        var t2 = MaxPoolRelu.Forward(ConvBn(encoder2, ebn2, t1));
        var t3 = MaxPoolRelu.Forward(ConvBn(encoder3, ebn3, t2));

        var t4 = TokenStages.Embedded(patch_embed3, block1, norm3, t3);
        var bottom = TokenStages.Embedded(patch_embed4, block2, norm4, t4);

        var d = UpsampleRelu.Forward(ConvBn(decoder1, dbn1, bottom), t4);
        d = TokenStages.InPlace(dblock1, dnorm3, d);
        d = UpsampleRelu.Forward(ConvBn(decoder2, dbn2, d), t3);
        d = TokenStages.InPlace(dblock2, dnorm4, d);
        d = UpsampleRelu.Forward(ConvBn(decoder3, dbn3, d), t2);
        d = UpsampleRelu.Forward(ConvBn(decoder4, dbn4, d), t1);
        // The last upsampling and the head: one fused node on the GPU (UpsampleReluHead).
        return UpsampleReluHead.Forward(decoder5.call(d), final).MoveToOuterDisposeScope();
    }

    Tensor ConvBn(Conv2d conv, BatchNorm2d bn, Tensor x) =>
        ConvBatchNorm.Forward(conv, bn, folded?.GetValueOrDefault(conv), x);

    public int FoldBatchNorm()
    {
        if (folded is not null) return 0;
        folded = [];
        foreach (var (name, conv, bn) in new[]
                 {
                     (nameof(encoder1), encoder1, ebn1), (nameof(encoder2), encoder2, ebn2), (nameof(encoder3), encoder3, ebn3),
                     (nameof(decoder1), decoder1, dbn1), (nameof(decoder2), decoder2, dbn2), (nameof(decoder3), decoder3, dbn3),
                     (nameof(decoder4), decoder4, dbn4),
                 })
        {
            var both = new FoldedConv(conv, bn);
            register_module(name + "_folded", both);
            folded[conv] = both;
        }
        return folded.Count;
    }
}
