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
    public static (nn.Module<Tensor, Tensor> Model, ModelSpec Spec) Load(string path, ModelSpec? specOverride = null)
    {
        var (tensors, meta) = WeightsFile.Read(path);
        if (meta.GetValueOrDefault("ukan.kind")?.StartsWith("diffusion") == true)
            throw new UserError($"--weights {path}: diffusion weights (an image generator); use them with 'ukan diffusion generate'.");
        var recorded = ModelExport.ReadSpec(meta);
        var spec = specOverride ?? recorded
            ?? throw new UserError($"--weights {path}: the file does not record its model configuration; pass --preset (or --embed-dims, --mlp, --model) as it was trained.");
        var model = ModelFactory.Create(spec);
        StateDictLoader.Load(model, tensors, path);
        return (model, spec);
    }
}
