using System.Globalization;
using System.Text.Json;
using UKan.Checkpoints;
using UKan.Models.Diffusion;
using static TorchSharp.torch;

namespace UKan.Diffusion;

/// <summary>
/// Builds a DDPM noise predictor from weights: a diffusion run folder (its model.safetensors, else its
/// checkpoints/last.safetensors, or the last.safetensors at the root of runs of the older layout), our exported weights (the architecture recorded in the metadata), a training checkpoint (keys
/// under "model."), or an official Diffusion_UKAN checkpoint (<c>ckpt_*.pt</c>, torch.save of the state dict; the
/// architecture comes from the caller, U-KAN hybrid by default). Keys and shapes must match exactly.
/// </summary>
public static class DiffusionWeights
{
    /// <summary>The metadata "ukan.kind" of exported diffusion weights.</summary>
    public const string Kind = "diffusion-weights";

    /// <param name="warn">Told about weights that hold NaN or infinite values.</param>
    public static (DdpmBackbone Model, DiffusionArchitecture Architecture) Load(string path, DiffusionArchitecture? architecture = null, Action<string>? warn = null)
    {
        if (Directory.Exists(path))
        {
            var run = new UKan.Training.RunFolder(path);
            path = new[] { run.ExportedModel, run.Last, run.OldDiffusionLast }.FirstOrDefault(File.Exists)
                ?? throw new UserError($"--weights {path}: the folder holds neither model.safetensors nor checkpoints/last.safetensors; give a diffusion run folder or a weights file.");
        }
        var (tensors, meta) = WeightsFile.Read(path);
        if (meta.ContainsKey("ukan.spec"))
            throw new UserError($"--weights {path}: segmentation weights; use them with 'ukan predict' or 'ukan eval'.");
        DiffusionArchitecture? recorded = null;
        if (meta.GetValueOrDefault("ukan.diffusion_model") is string name)
        {
            try { recorded = JsonSerializer.Deserialize<DiffusionArchitecture>($"\"{name}\"", UKan.IO.JsonFiles.Options); }
            catch (JsonException) { throw new UserError($"--weights {path}: records an unknown diffusion model '{name}'."); }
        }
        double dropout = 0.15;
        if (meta.GetValueOrDefault("ukan.dropout") is string d && !(double.TryParse(d, NumberStyles.Float, CultureInfo.InvariantCulture, out dropout) && dropout is >= 0 and < 1))
            throw new UserError($"--weights {path}: unreadable dropout '{d}' in its metadata; the file is damaged.");
        if (architecture is { } asked && recorded is { } rec && asked != rec)
            throw new UserError($"--model {Name(asked)}: {path} holds a {Name(rec)} model; drop --model or pass --model {Name(rec)}.");
        var arch = architecture ?? recorded ?? DiffusionArchitecture.UKanHybrid;
        var model = DdpmBackbone.Create(arch, dropout);
        StateDictLoader.Load(model, tensors, path);
        if (warn is not null && WeightsFile.NonFinite(tensors) is { Count: > 0 } bad)
            warn($"{path}: {bad.Count} tensor(s) hold NaN or infinite values (first: {bad[0]}); the samples will be meaningless. Was the run's loss diverging?");
        foreach (var t in tensors.Values) t.Dispose();
        return (model, arch);
    }

    /// <summary>The architecture's name as the CLI and the metadata spell it (ukan-hybrid, umlp, unet).</summary>
    public static string Name(DiffusionArchitecture architecture) => JsonSerializer.Serialize(architecture, UKan.IO.JsonFiles.Options).Trim('"');
}
