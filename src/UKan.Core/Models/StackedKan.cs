using UKan.Layers;

namespace UKan.Models;

/// <summary>Options of the stacked-KAN baseline, kept in <see cref="ModelSpec.ArchitectureOptions"/>.</summary>
public sealed record StackedKanOptions
{
    /// <summary>Options of every KanLinear, in the FC layers and inside every KAN convolution (efficient-kan defaults).</summary>
    public KanLinearOptions Kan { get; init; } = new();
}

/// <summary>
/// The "directly deeply stacked KAN" that ALL U-KAN (arXiv 2602.03156) compares with for its 10× parameter and >20×
/// memory claims, reconstructed per docs/allukan.md §R.4, §R.9 and §R.10: the Seg U-KAN skeleton (<see cref="SegUKan"/>,
/// CUHK-AIM-Group/U-KAN <c>Seg_UKAN/archs.py</c>) with every nn.Conv2d a KAN convolution (<see cref="KanConv2d"/>:
/// unfold → efficient-kan KanLinear → fold back; a depthwise conv has one KAN function per channel and tap) and every FC a
/// KanLinear, G = 5, k = 3, full autograd. KAN convolutions have no bias (efficient-kan has none). BN, LayerNorm,
/// ReLU, pooling and skips are U-KAN's.
/// </summary>
/// <remarks>
/// For the paper dims this has 27,492,064 parameters, as predicted (docs/allukan.md §R.9). It is meant for
/// parameter and memory comparisons: at 256×256 the first and last convolutions unfold 144 features per pixel into
/// 9 spline features each, so expect tens of GB for a batch of 8.
/// </remarks>
public static class StackedKan
{
    public static SegUKan Create(ModelSpec spec)
    {
        if (spec.Mixer != TokenMixer.Kan)
            throw new UserError("the MLP token mixer is a U-KAN ablation; the stacked-KAN baseline's token mixers are KanLinear.");
        var kan = spec.ReadOptions<StackedKanOptions>().Kan;
        ConvFactory conv = (i, o, k, s, p, g) => new KanConv2d(i, o, k, s, p, 1, g, kan);
        LinearFactory linear = (i, o) => new KanLinear(i, o, kan);
        return new SegUKan(spec, conv, linear);
    }
}
