using TorchSharp;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>
/// Builds a segmentation model from a weights file: our exported weights (model.safetensors: official key names,
/// the model spec in the metadata), our training checkpoints (keys under "model."), or an official PyTorch .pth
/// (needs the spec from the caller, e.g. --preset). Keys and shapes must match exactly.
/// </summary>
public static class ModelLoader
{
    public static (nn.Module<Tensor, Tensor> Model, ModelSpec Spec) Load(string path, ModelSpec? specOverride = null)
    {
        if (!File.Exists(path)) throw new UserError($"--weights {path}: file not found.");
        if (new FileInfo(path).Length == 0) throw new UserError($"--weights {path}: the file is empty (0 bytes); it may be a failed download.");
        if (IsZip(path))
            return LoadPth(path, specOverride);
        var (tensors, meta) = TensorFile.Read(path);
        var spec = specOverride ?? (meta.TryGetValue("ukan.spec", out var json)
            ? ModelSpec.FromJson(json)
            : throw new UserError($"--weights {path}: the file does not say which model it belongs to; pass --preset (and --model) for it."));
        var model = ModelFactory.Create(spec);
        bool prefixed = meta.GetValueOrDefault("ukan.kind") == "training-checkpoint";
        var byName = prefixed ? tensors : tensors.ToDictionary(kv => "model." + kv.Key, kv => kv.Value);
        TrainingCheckpoint.LoadModel(model, byName, path);
        return (model, spec);
    }

    static (nn.Module<Tensor, Tensor>, ModelSpec) LoadPth(string path, ModelSpec? spec)
    {
        if (spec is null) throw new UserError($"--weights {path}: an official .pth does not record its configuration; pass --preset paper (or the embed dims it was trained with).");
        var model = ModelFactory.Create(spec);
        PthWeights.LoadInto(model, path);
        return (model, spec);
    }

    static bool IsZip(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return f.Read(head) == 4 && head[0] == 'P' && head[1] == 'K';
    }
}

/// <summary>Seam for the restricted .pth reader (UKan.Checkpoints); until it is wired, .pth files are refused clearly.</summary>
public static class PthWeights
{
    public static Action<nn.Module, string> LoadInto { get; set; } = (_, path) =>
        throw new UserError($"--weights {path}: reading PyTorch .pth files is not available in this build; convert it to safetensors with PyTorch (safetensors.torch.save_file(torch.load(f), 'model.safetensors')).");
}
