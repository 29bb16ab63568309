using System.Text.Json;
using System.Text.Json.Serialization;

namespace UKan.Models;

/// <summary>The segmentation architectures this toolkit builds.</summary>
public enum Architecture
{
    /// <summary>Seg U-KAN (Li et al., AAAI 2025).</summary>
    UKan,
    /// <summary>ALL U-KAN (Liang et al., 2026): every Conv a KAonv, every FC a KA layer.</summary>
    AllUKan,
    /// <summary>The "directly stacked KAN" baseline of ALL U-KAN: every Conv a KAN convolution, every FC a KANLinear.</summary>
    StackedKan,
    /// <summary>U-Net (Ronneberger et al., 2015), the 31.04 M-parameter version U-KAN's Table 1 compares with.</summary>
    UNet,
    /// <summary>Attention U-Net (Oktay et al., 2018).</summary>
    AttUNet,
    /// <summary>U-Net++ (Zhou et al., 2018), with deep supervision as an option.</summary>
    UNetPlusPlus,
    /// <summary>UNeXt (Valanarasu and Patel, 2022): U-KAN's skeleton with shifted tokenized MLPs.</summary>
    UNext,
}

/// <summary>What fills the token-wise linear maps of a KAN block.</summary>
public enum TokenMixer
{
    /// <summary>KANLinear (U-KAN).</summary>
    Kan,
    /// <summary>nn.Linear with bias: the MLP ablation of the U-KAN paper, wired correctly.</summary>
    Mlp,
}

/// <summary>How the output channels are read, fixed by the loss the model trains with.</summary>
public enum SegmentationLoss
{
    /// <summary>BCE + Dice (U-KAN's loss): one sigmoid per channel, classes may overlap (masks/0..C-1).</summary>
    BceDice,
    /// <summary>Cross-entropy + Dice over a softmax: mutually exclusive classes 0..C-1, class 0 the background (label maps).</summary>
    CeDice,
}

/// <summary>
/// Everything needed to rebuild a segmentation model; stored as JSON in every checkpoint's metadata.
/// </summary>
public sealed record ModelSpec
{
    /// <summary>The network: Seg U-KAN (default), ALL U-KAN or the stacked-KAN baseline.</summary>
    public Architecture Architecture { get; init; } = Architecture.UKan;
    /// <summary>Channels of the three deep stages [d0, d1, d2]; encoder stages use d0/8, d0/4, d0.</summary>
    public int[] EmbedDims { get; init; } = [128, 160, 256];
    /// <summary>Image channels the network takes: 3 (colour, the default) or 1 (grey).</summary>
    public int InChannels { get; init; } = 3;
    /// <summary>Output channels (classes); training and the masks use binary segmentation, 1.</summary>
    public int NumClasses { get; init; } = 1;
    /// <summary>KANLinear (U-KAN) or Linear (the MLP ablation) in the tokenized blocks.</summary>
    public TokenMixer Mixer { get; init; } = TokenMixer.Kan;
    /// <summary>The training loss, which also says how predictions are read (sigmoid per channel, or softmax + argmax).</summary>
    public SegmentationLoss Loss { get; init; } = SegmentationLoss.BceDice;
    /// <summary>The preset it came from, for display; null for custom dims.</summary>
    public string? Preset { get; init; } = "paper";
    /// <summary>Options of ALL U-KAN's layers (ignored by the other architectures); null = defaults.</summary>
    public JsonElement? ArchitectureOptions { get; init; }

    /// <summary>The JSON conventions of the spec, also used for <see cref="ArchitectureOptions"/>.</summary>
    internal static readonly JsonSerializerOptions Json = UKan.IO.JsonFiles.Compact;

    // Options are read strictly: a misspelt key would otherwise silently give a default.
    static readonly JsonSerializerOptions StrictJson = new(Json) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    /// <summary>This spec as the compact JSON stored in checkpoint metadata.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The architecture options as <typeparamref name="T"/>; absent options (or absent keys) give the defaults.</summary>
    public T ReadOptions<T>() where T : new()
    {
        if (ArchitectureOptions is not JsonElement element || element.ValueKind == JsonValueKind.Null) return new T();
        try { return element.Deserialize<T>(StrictJson) ?? new T(); }
        catch (JsonException e) { throw new UserError($"architecture options (--arch-options) of {ArchitectureNames.Name(Architecture)}: {Explain(e)}"); }
    }

    /// <summary>What is wrong in the options, in the user's terms (the serializer's message names .NET types).</summary>
    static string Explain(JsonException e)
    {
        const string Docs = "docs/allukan.md and docs/models.md list each model's options";
        var unknown = System.Text.RegularExpressions.Regex.Match(e.Message, "JSON property '([^']+)' could not be mapped");
        if (unknown.Success) return $"unknown key '{unknown.Groups[1].Value}' ({Docs}).";
        var key = e.Path is { Length: > 2 } path ? path[2..] : "the options";
        return $"{key}: not a value it takes (a number, a name or an object of the documented kind; {Docs}).";
    }

    /// <summary>This spec with <paramref name="options"/> stored as its architecture options.</summary>
    public ModelSpec WithOptions<T>(T options) => this with { ArchitectureOptions = JsonSerializer.SerializeToElement(options, Json) };

    /// <summary>A spec from checkpoint-metadata JSON; a damaged one is a <see cref="UserError"/>.</summary>
    /// <param name="json">The JSON written by <see cref="ToJson"/>.</param>
    /// <param name="source">The file the JSON comes from, for the message when it cannot be read.</param>
    public static ModelSpec FromJson(string json, string source = "the checkpoint")
    {
        ModelSpec? spec;
        try { spec = UKan.IO.JsonFiles.Deserialize<ModelSpec>(json, Json); }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new UserError($"{source}: the model configuration in its metadata is unreadable ({e.Message.Split(". ")[0]}); the file is damaged or was not written by ukan.");
        }
        if (spec is null || spec.EmbedDims is not { Length: 3 } || spec.EmbedDims.Any(d => d < 1) || spec.InChannels < 1 || spec.NumClasses < 1
            || (spec.Loss == SegmentationLoss.CeDice && spec.NumClasses < 2))
            throw new UserError($"{source}: the model configuration in its metadata is empty or invalid; the file is damaged or was not written by ukan.");
        return spec;
    }

    /// <summary>
    /// The first setting in which <paramref name="given"/> differs from this spec, as the option that sets it and both
    /// values; null when they build the same model.
    /// </summary>
    public (string Option, string Given, string Recorded)? FirstDifference(ModelSpec given)
    {
        static string Dims(ModelSpec s) => s.Preset is string p && ModelPresets.Dims.TryGetValue(p, out var d) && d.SequenceEqual(s.EmbedDims)
            ? $"{p} [{string.Join(',', s.EmbedDims)}]" : string.Join(',', s.EmbedDims);
        if (given.Architecture != Architecture) return ("--model", ArchitectureNames.Name(given.Architecture), ArchitectureNames.Name(Architecture));
        if (!given.EmbedDims.SequenceEqual(EmbedDims)) return (given.Preset is null ? "--embed-dims" : "--preset", Dims(given), Dims(this));
        if (given.Mixer != Mixer) return ("--mlp", given.Mixer == TokenMixer.Mlp ? "on" : "off", Mixer == TokenMixer.Mlp ? "on" : "off");
        if (given.InChannels != InChannels) return ("--in-channels", given.InChannels.ToString(), InChannels.ToString());
        if (given.NumClasses != NumClasses) return ("--classes", given.NumClasses.ToString(), NumClasses.ToString());
        if (given.Loss != Loss) return ("--loss", LossName(given.Loss), LossName(Loss));
        string Options(ModelSpec s) => s.ArchitectureOptions is JsonElement e && e.ValueKind != JsonValueKind.Null ? e.GetRawText() : "{}";
        if (given.ArchitectureOptions is not null && Options(given) != Options(this)) return ("--arch-options", Options(given), Options(this));
        return null;
    }

    /// <summary>The loss mode as the command line spells it (--loss bce-dice | ce-dice).</summary>
    public static string LossName(SegmentationLoss loss) => loss == SegmentationLoss.CeDice ? "ce-dice" : "bce-dice";

    /// <summary>Output channels that are scored: every channel with BCE + Dice, the classes after the background with softmax.</summary>
    public int ScoredClasses => Loss == SegmentationLoss.CeDice ? NumClasses - 1 : NumClasses;

    /// <summary>
    /// One line naming the model, e.g. "ukan-mlp paper [128,160,256], 3 in, 1 class" or "unet width 64, 3 in, 1 class"
    /// (the convolutional baselines have no embed dims; their size is a width).
    /// </summary>
    public string Describe() =>
        $"{ArchitectureNames.Name(Architecture)}{(Mixer == TokenMixer.Mlp ? "-mlp" : "")} " +
        (ArchitectureNames.UsesEmbedDims(Architecture)
            ? $"{(Preset ?? "custom")} [{string.Join(',', EmbedDims)}]"
            : $"width {ConvUNetOptions.WidthOf(this)}") +
        (Architecture == Architecture.UNetPlusPlus && ConvUNetOptions.DeepSupervisionOf(this) ? " with deep supervision" : "") +
        $", {InChannels} in, {NumClasses} class{(NumClasses == 1 ? "" : "es")}" +
        (Loss == SegmentationLoss.CeDice ? " (softmax, ce-dice)" : "");
}

/// <summary>Named embed dims.</summary>
public static class ModelPresets
{
    /// <summary>
    /// paper: what the official train.py builds (--input_list 128,160,256; 6,356,689 parameters, the paper's 6.35M);
    /// large: the UKAN class default [256,320,512] (25,359,265); tiny: [32,40,64], the team fixture (403,621).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, int[]> Dims = new Dictionary<string, int[]>
    {
        ["paper"] = [128, 160, 256],
        ["large"] = [256, 320, 512],
        ["tiny"] = [32, 40, 64],
    };

    /// <summary>The embed dims of a preset name (paper, large, tiny); an unknown name is a <see cref="UserError"/>.</summary>
    public static int[] Resolve(string preset) =>
        Dims.TryGetValue(preset, out var dims) ? dims
        : throw new UserError($"--preset {preset}: unknown preset; use one of {string.Join(", ", Dims.Keys)}, or --embed-dims d0,d1,d2.");

    /// <summary>Parses "128,160,256".</summary>
    public static int[] ParseDims(string text)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 3 || parts.Any(p => !int.TryParse(p, out var v) || v < 8 || v > 4096))
            throw new UserError($"--embed-dims {text}: expected three integers from 8 to 4096, like 128,160,256.");
        return parts.Select(int.Parse).ToArray();
    }
}
