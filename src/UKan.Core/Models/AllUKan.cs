using UKan.Layers;

namespace UKan.Models;

/// <summary>Which layers share one ψ (docs/allukan.md §R.10).</summary>
public enum ActivationSharing
{
    /// <summary>Every KA / KAonv layer has its own ψ (the default, docs/allukan.md §R.6).</summary>
    Layer,
    /// <summary>
    /// One ψ per top-level stage of the skeleton (encoder1…3, patch_embed3/4, block1/2, dblock1/2, decoder1…5,
    /// final): 15 ψ. Stored under the stage's first layer, e.g. <c>block1.0.layer.fc1.act.coef</c>.
    /// </summary>
    Block,
    /// <summary>One ψ for the whole network, stored under <c>encoder1.conv.0.act</c>.</summary>
    Network,
}

/// <summary>
/// Options of ALL U-KAN, kept in <see cref="ModelSpec.ArchitectureOptions"/> as JSON (snake_case keys, kebab-case
/// values). Every choice the paper leaves open is here; the defaults are the reconstruction of docs/allukan.md §R.
/// </summary>
public sealed record AllUKanOptions
{
    /// <summary>ψ: grid, order, base activation, init, and the Grad-Free mode (default grad-free).</summary>
    public SharedActivationOptions Activation { get; init; } = new();
    public ActivationSharing Sharing { get; init; } = ActivationSharing.Layer;
    /// <summary>Keep U-KAN's ReLUs (default) or drop them all (docs/allukan.md §R.10; see <see cref="SkeletonOptions.Relu"/>).</summary>
    public bool Relu { get; init; } = true;
    /// <summary>Sprecher's inner shift for the KA (FC) layers (docs/allukan.md §R.7); none by default.</summary>
    public SprecherShiftOptions Shift { get; init; } = new();
    /// <summary>b in the KA layers: true as the nn.Linear they replace (U-KAN's KANLinear has none).</summary>
    public bool LinearBias { get; init; } = true;
    /// <summary>b in the KAonv layers: true as U-KAN's Conv2d.</summary>
    public bool ConvBias { get; init; } = true;
    /// <summary>Zero padding after ψ (default; padded taps give 0) or before it (padded taps give ψ(0)).</summary>
    public KaPadding Padding { get; init; } = KaPadding.AfterActivation;
    /// <summary>
    /// False (default): Λ and b keep nn.Linear / nn.Conv2d's default initialisation. True: the KA / KAonv layers inside
    /// the patch embeddings and KAN blocks get U-KAN's official <c>_init_weights</c> as the layers they replace did.
    /// </summary>
    public bool OfficialLambdaInit { get; init; }
}

/// <summary>
/// ALL U-KAN: "Fully Kolmogorov-Arnold Deep Model in Medical Image Segmentation" (arXiv 2602.03156, 2026). No code is
/// public (the OpenReview link is anonymised) and only the abstract and the ICLR 2026 reviews could be read, so this is
/// the reconstruction of docs/allukan.md §R: the Seg U-KAN skeleton (<see cref="SegUKan"/>, mirroring class <c>UKAN</c> of
/// CUHK-AIM-Group/U-KAN <c>Seg_UKAN/archs.py</c>) with every nn.Conv2d a KAonv (<see cref="KaConv2d"/>) and every
/// KANLinear a KA layer (<see cref="KaLinear"/>), each with its own shared activation ψ (<see cref="SharedActivation"/>).
/// </summary>
/// <remarks>
/// What the sources fix: KA replaces FC and KAonv replaces Conv [paper]; one activation shared across input
/// dimensions [review]; spline gradients detached ("Grad-Free Spline") [paper, review]; the U-KAN skeleton [review];
/// ≈57% fewer parameters than U-KAN and 10× fewer than a directly stacked KAN [review, paper] — which this design
/// reproduces (docs/allukan.md). Every inferred choice is an <see cref="AllUKanOptions"/> field:
/// <list type="bullet">
/// <item>ψ = w_b·SiLU(u) + w_s·Σ c_j B_j(u) with G = 5, k = 3 on [−1, 1], c ~ ±0.01, w_b = w_s = 1 (docs/allukan.md §R.3).</item>
/// <item>One scalar λ per edge; Λ and b initialised as the replaced Linear / Conv2d (docs/allukan.md §R.3).</item>
/// <item>Grad-Free = basis under no_grad; gradients into earlier layers only through w_b·SiLU' (docs/allukan.md §R.5).</item>
/// <item>ψ applied before the convolution, zero padding after ψ (docs/allukan.md §R.4).</item>
/// <item>One ψ per layer; BN, LayerNorm, ReLU, max-pool, bilinear upsampling and skips kept (docs/allukan.md §R.6).</item>
/// <item>No Sprecher shift (docs/allukan.md §R.7); biases kept in KA and KAonv layers; 2,764,991 parameters for the paper dims (§R.9 predicts 2,764,948 for a ψ of 9 scalars).</item>
/// </list>
/// The model is a <see cref="SegUKan"/> whose <see cref="ModelSpec.Architecture"/> is AllUKan; state-dict keys are
/// U-KAN's (<c>encoder1.conv.0.weight</c> is Λ) plus <c>….act.coef</c>, <c>….act.base_scale</c>, <c>….act.spline_scale</c>.
/// </remarks>
public static class AllUKan
{
    public static SegUKan Create(ModelSpec spec)
    {
        if (spec.Mixer != TokenMixer.Kan)
            throw new UserError("the MLP token mixer is a U-KAN ablation; ALL U-KAN's token mixers are always KA layers.");
        var options = spec.ReadOptions<AllUKanOptions>();
        var psi = options.Activation;

        // Sharing: null means "the layer makes its own ψ"; otherwise the current shared one (a new one per stage with
        // Block sharing, announced by the skeleton before each stage is built).
        SharedActivation? current = null;
        SharedActivation? Shared() => options.Sharing == ActivationSharing.Layer ? null : current ??= new SharedActivation(psi);
        var skeleton = new SkeletonOptions
        {
            Relu = options.Relu,
            BeginStage = options.Sharing == ActivationSharing.Block ? _ => current = null : null,
        };

        ConvFactory conv = (i, o, k, s, p, g) => new KaConv2d(i, o, k, s, p, 1, g, options.ConvBias, psi, options.Padding, Shared());
        LinearFactory linear = (i, o) => new KaLinear(i, o, options.LinearBias, psi, options.Shift, Shared());
        var model = new SegUKan(spec, conv, linear, officialInit: true, skeleton);
        if (options.OfficialLambdaInit) OfficialInit.ApplyToStages(model, SegUKan.OfficialInitStages, kaLambdas: true);
        return model;
    }
}
