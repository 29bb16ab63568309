using System.CommandLine;
using UKan.Models;

namespace UKan.Cli;

/// <summary>The options every command that builds a model shares (train, eval, predict, bench, model summary).</summary>
sealed class ModelOptions
{
    public readonly Option<string> Model = new("--model") { Description = "Architecture: ukan, allukan or stacked-kan.", DefaultValueFactory = _ => "ukan" };
    public readonly Option<string> Preset = new("--preset") { Description = "Embed dims preset: paper [128,160,256], large [256,320,512] or tiny [32,40,64].", DefaultValueFactory = _ => "paper" };
    public readonly Option<string?> EmbedDims = new("--embed-dims") { Description = "Custom embed dims d0,d1,d2 (overrides --preset)." };
    public readonly Option<bool> Mlp = new("--mlp") { Description = "MLP ablation: nn.Linear instead of KANLinear in the KAN blocks (the official --no_kan, wired correctly)." };
    public readonly Option<int> InChannels = new("--in-channels") { Description = "Input channels.", DefaultValueFactory = _ => 3 };
    public readonly Option<int> Classes = new("--classes") { Description = "Output classes (1 = binary).", DefaultValueFactory = _ => 1 };
    public readonly Option<string?> ArchOptions = new("--arch-options")
    {
        Description = "Options of the allukan / stacked-kan layers as JSON, e.g. '{\"activation\":{\"gradient\":\"grad-free-recompute\"}}' (docs/allukan.md lists them).",
    };

    public ModelOptions() => Model.AcceptOnlyFromAmong([.. ModelSpec.ArchitectureNames.Keys]);

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Model, Preset, EmbedDims, Mlp, InChannels, Classes, ArchOptions }) command.Options.Add(o);
    }

    /// <summary>The spec these options ask for, and which of its fields the user actually stated.</summary>
    public ModelRequest Request(ParseResult parsed)
    {
        bool Given(Option o) => parsed.GetResult(o) is { Implicit: false };
        var given = ModelFields.None;
        if (Given(Model)) given |= ModelFields.Architecture;
        if (Given(Preset) || Given(EmbedDims)) given |= ModelFields.EmbedDims;
        if (Given(Mlp)) given |= ModelFields.Mixer;
        if (Given(InChannels)) given |= ModelFields.InChannels;
        if (Given(Classes)) given |= ModelFields.Classes;
        if (Given(ArchOptions)) given |= ModelFields.ArchitectureOptions;
        return new ModelRequest(Resolve(parsed), given);
    }

    public ModelSpec Resolve(ParseResult parsed)
    {
        var custom = parsed.GetValue(EmbedDims);
        var preset = parsed.GetValue(Preset)!;
        int inChannels = parsed.GetValue(InChannels), classes = parsed.GetValue(Classes);
        if (inChannels < 1) throw new UserError($"--in-channels {inChannels}: must be at least 1.");
        if (classes < 1) throw new UserError($"--classes {classes}: must be at least 1.");
        var architecture = ModelSpec.ParseArchitecture(parsed.GetValue(Model)!);
        System.Text.Json.JsonElement? options = null;
        if (parsed.GetValue(ArchOptions) is string json)
        {
            if (architecture == Architecture.UKan) throw new UserError("--arch-options applies to --model allukan or stacked-kan; U-KAN's options are --preset, --embed-dims and --mlp.");
            try { options = System.Text.Json.JsonDocument.Parse(json).RootElement.Clone(); }
            catch (System.Text.Json.JsonException e) { throw new UserError($"--arch-options: not valid JSON ({e.Message})."); }
            if (options.Value.ValueKind != System.Text.Json.JsonValueKind.Object) throw new UserError("--arch-options: give a JSON object, e.g. '{\"activation\":{\"gradient\":\"grad-free\"}}'.");
        }
        var spec = new ModelSpec
        {
            Architecture = architecture,
            EmbedDims = custom is null ? ModelPresets.Resolve(preset) : ModelPresets.ParseDims(custom),
            Preset = custom is null ? preset : null,
            Mixer = parsed.GetValue(Mlp) ? TokenMixer.Mlp : TokenMixer.Kan,
            InChannels = inChannels,
            NumClasses = classes,
            ArchitectureOptions = options,
        };
        // Read now, so that a misspelt key or a bad value fails before any data is touched.
        if (architecture == Architecture.AllUKan) _ = spec.ReadOptions<AllUKanOptions>();
        if (architecture == Architecture.StackedKan) _ = spec.ReadOptions<StackedKanOptions>();
        return spec;
    }
}
