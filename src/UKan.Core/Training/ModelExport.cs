using TorchSharp;
using UKan.Models;

namespace UKan.Training;

/// <summary>
/// Exports a model's weights as safetensors under the official state-dict names (no prefix), with the model
/// configuration in the metadata: loadable by ukan (eval, predict) and by PyTorch users
/// (safetensors.torch.load_file + load_state_dict on the official UKAN class).
/// </summary>
public static class ModelExport
{
    /// <summary>The model configuration a weights file records, or null.</summary>
    public static ModelSpec? ReadSpec(IReadOnlyDictionary<string, string> metadata, string source = "the weights file") =>
        metadata.TryGetValue("ukan.spec", out var json) ? ModelSpec.FromJson(json, source) : null;

    public static void Save(string path, torch.nn.Module model, ModelSpec spec, string? note = null) =>
        Save(path, model.state_dict().Select(kv => (kv.Key, kv.Value)), spec, note);

    /// <summary>Writes a state dict (name → tensor) with the model configuration <paramref name="spec"/>.</summary>
    public static void Save(string path, IEnumerable<(string Name, torch.Tensor Value)> stateDict, ModelSpec spec, string? note = null)
    {
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["ukan.kind"] = "weights", ["ukan.spec"] = spec.ToJson() };
        if (note is not null) meta["ukan.note"] = note;
        UKan.Checkpoints.SafeTensors.Write(path, stateDict, meta);
    }
}
