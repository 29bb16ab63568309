using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>Builds any segmentation model from its <see cref="ModelSpec"/>.</summary>
public static class ModelFactory
{
    /// <summary>
    /// A new network for <paramref name="spec"/> with freshly initialised weights, on the CPU (move it with
    /// <c>to(device)</c>). Input: N×C×H×W float32 with H and W multiples of 32; output: N×classes×H×W logits.
    /// </summary>
    public static nn.Module<Tensor, Tensor> Create(ModelSpec spec) => spec.Architecture switch
    {
        Architecture.UKan => new SegUKan(spec, ConvFactories.Conv2d, UKanLinear(spec)),
        Architecture.AllUKan => AllUKan.Create(spec),
        Architecture.StackedKan => StackedKan.Create(spec),
        Architecture.UNet => new UNet(Baseline(spec)),
        Architecture.AttUNet => new AttUNet(Baseline(spec)),
        Architecture.UNetPlusPlus => new UNetPlusPlus(Baseline(spec)),
        Architecture.UNext => new UNext(Baseline(spec)),
        _ => throw new UserError($"architecture {spec.Architecture} is not available in this build."),
    };

    /// <summary>
    /// Checks a spec's options without building the model (the CLI calls this before touching any data): the options
    /// JSON of the architectures that have options, and no --mlp where it means nothing.
    /// </summary>
    public static void Validate(ModelSpec spec)
    {
        switch (spec.Architecture)
        {
            case Architecture.AllUKan: _ = spec.ReadOptions<AllUKanOptions>(); break;
            case Architecture.StackedKan: _ = spec.ReadOptions<StackedKanOptions>(); break;
            case Architecture.UNet or Architecture.AttUNet or Architecture.UNetPlusPlus: _ = ConvUNetOptions.WidthOf(Baseline(spec)); break;
            case Architecture.UNext: _ = Baseline(spec); break;
        }
    }

    /// <summary>
    /// The spec of a baseline, refused when it asks for U-KAN's MLP ablation, (UNeXt) for options, or (U-Net, Attention
    /// U-Net) for deep supervision.
    /// </summary>
    static ModelSpec Baseline(ModelSpec spec)
    {
        var name = ArchitectureNames.Name(spec.Architecture);
        if (spec.Mixer != TokenMixer.Kan)
            throw new UserError($"--mlp is U-KAN's MLP ablation; --model {name} has no KAN layers to replace (drop --mlp).");
        if (spec.Architecture == Architecture.UNext && spec.ArchitectureOptions is { ValueKind: not System.Text.Json.JsonValueKind.Null })
            throw new UserError("--arch-options: --model unext has none; size it with --preset or --embed-dims as U-KAN.");
        if (spec.Architecture != Architecture.UNext) _ = ConvUNetOptions.DeepSupervisionOf(spec);
        return spec;
    }

    /// <summary>fc1..fc3 of U-KAN: KANLinear(C, C) with the official options, or nn.Linear(C, C) for the MLP ablation.</summary>
    public static LinearFactory UKanLinear(ModelSpec spec) => spec.Mixer == TokenMixer.Mlp
        ? (i, o) => nn.Linear(i, o, hasBias: true)
        : (i, o) => new KanLinear(i, o);

    /// <summary>The number of (trainable, unless <paramref name="trainableOnly"/> is false) parameters of <paramref name="model"/>.</summary>
    public static long CountParameters(nn.Module model, bool trainableOnly = true) =>
        model.parameters().Where(p => !trainableOnly || p.requires_grad).Sum(p => p.numel());
}
