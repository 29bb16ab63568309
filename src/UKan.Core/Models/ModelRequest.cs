namespace UKan.Models;

/// <summary>
/// What a caller states about the model it loads: <see cref="Asked"/> holds a complete spec (defaults where nothing was
/// said) and <see cref="Given"/> which of its fields were actually stated. A weights file that records its spec
/// supplies the rest, and a stated field that contradicts the file is refused rather than ignored; a file that records
/// none (an official .pth) is built from <see cref="Asked"/>.
/// </summary>
public sealed record ModelRequest(ModelSpec Asked, ModelFields Given)
{
    /// <summary>Nothing stated: the file's own spec, or the defaults (Seg U-KAN, paper preset) for an official .pth.</summary>
    public static readonly ModelRequest None = new(new ModelSpec(), ModelFields.None);

    /// <summary>The spec to build for a file that records <paramref name="recorded"/> (null: records none).</summary>
    public ModelSpec Choose(ModelSpec? recorded, string weights)
    {
        if (recorded is null)
            return Given != ModelFields.None || weights.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) || weights.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
                ? Asked
                : throw new UserError($"--weights {weights}: the file does not record its model configuration; pass --preset (or --embed-dims, --mlp, --model) as it was trained.");
        if (Given == ModelFields.None) return recorded;
        // Compare only what was stated: the rest comes from the file.
        bool G(ModelFields f) => (Given & f) != 0;
        var stated = recorded with
        {
            Architecture = G(ModelFields.Architecture) ? Asked.Architecture : recorded.Architecture,
            EmbedDims = G(ModelFields.EmbedDims) ? Asked.EmbedDims : recorded.EmbedDims,
            Preset = G(ModelFields.EmbedDims) ? Asked.Preset : recorded.Preset,
            Mixer = G(ModelFields.Mixer) ? Asked.Mixer : recorded.Mixer,
            InChannels = G(ModelFields.InChannels) ? Asked.InChannels : recorded.InChannels,
            NumClasses = G(ModelFields.Classes) ? Asked.NumClasses : recorded.NumClasses,
            ArchitectureOptions = G(ModelFields.ArchitectureOptions) ? Asked.ArchitectureOptions : null,
        };
        ModelLoader.RefuseConflict(recorded, stated, weights);
        return recorded;
    }
}
