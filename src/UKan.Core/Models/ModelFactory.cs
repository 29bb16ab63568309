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
        _ => throw new UserError($"architecture {spec.Architecture} is not available in this build."),
    };

    /// <summary>fc1..fc3 of U-KAN: KANLinear(C, C) with the official options, or nn.Linear(C, C) for the MLP ablation.</summary>
    public static LinearFactory UKanLinear(ModelSpec spec) => spec.Mixer == TokenMixer.Mlp
        ? (i, o) => nn.Linear(i, o, hasBias: true)
        : (i, o) => new KanLinear(i, o);

    /// <summary>The number of (trainable, unless <paramref name="trainableOnly"/> is false) parameters of <paramref name="model"/>.</summary>
    public static long CountParameters(nn.Module model, bool trainableOnly = true) =>
        model.parameters().Where(p => !trainableOnly || p.requires_grad).Sum(p => p.numel());
}
