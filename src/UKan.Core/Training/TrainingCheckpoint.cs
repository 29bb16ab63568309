using TorchSharp;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// A training checkpoint: the model's state dict under its official names (prefix "model."), the optimizer's flat
/// moment buffers ("optimizer.&lt;group&gt;.exp_avg", ...), and metadata (model spec, epoch, step count, best score,
/// the run's config). One safetensors file, written atomically.
/// </summary>
public static class TrainingCheckpoint
{
    public sealed record State(int Epoch, long Steps, double BestIou, int BestEpoch, ModelSpec Spec, string? ConfigJson);

    /// <summary>
    /// Copies the model's state dict and the optimizer's moments to host memory as they are now, so that they can be
    /// written on another thread while training goes on (the copies never alias the live tensors, on the CPU too).
    /// <paramref name="state"/> is null for a run that writes the snapshot with metadata of its own (the diffusion trainer).
    /// </summary>
    public static CheckpointSnapshot Take(nn.Module model, FlatAdam? optimizer, State? state)
    {
        static Tensor Copy(Tensor t)
        {
            var d = t.detach();
            return (d.device_type == DeviceType.CPU ? d.clone() : d.cpu()).DetachFromDisposeScope();
        }
        using var scope = NewDisposeScope();
        var weights = model.state_dict().Select(kv => (kv.Key, Copy(kv.Value))).ToList();
        var moments = optimizer is null ? [] : optimizer.StateTensors().Select(t => (t.Name, Copy(t.Value))).ToList();
        return new CheckpointSnapshot(weights, moments, state);
    }

    /// <summary>The safetensors metadata of a checkpoint in <paramref name="state"/>.</summary>
    internal static Dictionary<string, string> Metadata(State state)
    {
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["ukan.kind"] = "training-checkpoint",
            ["ukan.spec"] = state.Spec.ToJson(),
            ["ukan.epoch"] = state.Epoch.ToString(),
            ["ukan.steps"] = state.Steps.ToString(),
            ["ukan.best_iou"] = state.BestIou.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
            ["ukan.best_epoch"] = state.BestEpoch.ToString(),
        };
        if (state.ConfigJson is not null) meta["ukan.config"] = state.ConfigJson;
        return meta;
    }

    /// <summary>Reads a checkpoint's tensors and state; the model weights are under "model.".</summary>
    public static (Dictionary<string, Tensor> Tensors, State State) Read(string path)
    {
        var (tensors, meta) = UKan.Checkpoints.SafeTensors.Read(path);
        if (!meta.TryGetValue("ukan.spec", out var spec))
            throw new UserError($"{path}: not a ukan training checkpoint (no model configuration in its metadata).");
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        T Number<T>(string key, string fallback) where T : System.Numerics.INumber<T> =>
            T.TryParse(meta.GetValueOrDefault(key, fallback), System.Globalization.NumberStyles.Float, inv, out var v) ? v
            : throw new UserError($"{path}: unreadable {key} in its metadata; the checkpoint is damaged (use checkpoints/best.safetensors, or start a new run).");
        var state = new State(Number<int>("ukan.epoch", "0"), Number<long>("ukan.steps", "0"), Number<double>("ukan.best_iou", "0"),
            Number<int>("ukan.best_epoch", "-1"), ModelSpec.FromJson(spec, path), meta.GetValueOrDefault("ukan.config"));
        return (tensors, state);
    }

    /// <summary>Copies the "model." tensors into a model, strictly (every key present, every shape equal).</summary>
    public static void LoadModel(nn.Module model, IReadOnlyDictionary<string, Tensor> tensors, string path) =>
        UKan.Checkpoints.StateDictLoader.Load(model,
            tensors.Where(kv => kv.Key.StartsWith("model.")).ToDictionary(kv => kv.Key["model.".Length..], kv => kv.Value), path);
}
