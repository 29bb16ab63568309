using TorchSharp;
using UKan.Checkpoints;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>
/// Builds a segmentation model from a weights file: our exported weights (model.safetensors: official key names,
/// the model spec in the metadata), our training checkpoints (keys under "model."), an official PyTorch .pth (read
/// by the restricted unpickler; needs the spec from the caller, e.g. --preset), or a safetensors file of official
/// names without our metadata (likewise). Keys and shapes must match exactly.
/// </summary>
public static class ModelLoader
{
    /// <param name="chooseSpec">Given the spec the file records (null for files that record none, such as official
    /// .pth files), returns the spec to build; null: the recorded one, required.</param>
    /// <param name="warn">Told about weights that hold NaN or infinite values.</param>
    public static (nn.Module<Tensor, Tensor> Model, ModelSpec Spec) Load(string path, Func<ModelSpec?, ModelSpec>? chooseSpec = null, Action<string>? warn = null)
    {
        var (tensors, meta) = WeightsFile.Read(path);
        if (meta.GetValueOrDefault("ukan.kind")?.StartsWith("diffusion") == true)
            throw new UserError($"--weights {path}: diffusion weights (an image generator); use them with 'ukan diffusion generate'.");
        var recorded = ModelExport.ReadSpec(meta, path);
        var spec = chooseSpec is not null ? chooseSpec(recorded) : recorded
            ?? throw new UserError($"--weights {path}: the file does not record its model configuration; pass --preset (or --embed-dims, --mlp, --model) as it was trained.");
        var model = ModelFactory.Create(spec);
        StateDictLoader.Load(model, tensors, path);
        if (warn is not null && WeightsFile.NonFinite(tensors) is { Count: > 0 } bad)
            warn($"{path}: {bad.Count} tensor(s) hold NaN or infinite values (first: {bad[0]}); the model's outputs will be meaningless. Was the run's loss diverging?");
        return (model, spec);
    }

    /// <summary>
    /// Refuses options that contradict the spec a weights file records (they would otherwise be ignored, or fail
    /// later with a key mismatch), naming the option and the file's value.
    /// </summary>
    public static void RefuseConflict(ModelSpec recorded, ModelSpec given, string path)
    {
        if (recorded.FirstDifference(given) is (var option, var mine, var theirs))
            throw new UserError($"{option} {mine}: {path} holds a model of another {(option is "--preset" or "--embed-dims" ? "preset" : "configuration")} ({option} {theirs}: {recorded.Describe()}); " +
                                $"drop {option}, the file states its own.");
    }
}
