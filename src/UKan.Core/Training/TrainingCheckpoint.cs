using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
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

    public static void Save(string path, nn.Module model, FlatAdam? optimizer, State state)
    {
        using var scope = NewDisposeScope();
        var tensors = model.state_dict().Select(kv => ("model." + kv.Key, kv.Value)).ToList();
        if (optimizer is not null) tensors.AddRange(optimizer.StateTensors());
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
        TensorFile.Write(path, tensors, meta);
    }

    /// <summary>Reads a checkpoint's tensors and state; the model weights are under "model.".</summary>
    public static (Dictionary<string, Tensor> Tensors, State State) Read(string path)
    {
        var (tensors, meta) = TensorFile.Read(path);
        if (!meta.TryGetValue("ukan.spec", out var spec))
            throw new UserError($"{path}: not a ukan training checkpoint (no model configuration in its metadata).");
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var state = new State(
            int.Parse(meta.GetValueOrDefault("ukan.epoch", "0"), inv), long.Parse(meta.GetValueOrDefault("ukan.steps", "0"), inv),
            double.Parse(meta.GetValueOrDefault("ukan.best_iou", "0"), inv), int.Parse(meta.GetValueOrDefault("ukan.best_epoch", "-1"), inv),
            ModelSpec.FromJson(spec), meta.GetValueOrDefault("ukan.config"));
        return (tensors, state);
    }

    /// <summary>Copies the "model." tensors into a model, strictly (every key present, every shape equal).</summary>
    public static void LoadModel(nn.Module model, IReadOnlyDictionary<string, Tensor> tensors, string path)
    {
        var target = model.state_dict();
        var missing = target.Keys.Where(k => !tensors.ContainsKey("model." + k)).ToList();
        var mismatched = target.Where(kv => tensors.TryGetValue("model." + kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape)).Select(kv => kv.Key).ToList();
        if (missing.Count > 0 || mismatched.Count > 0)
            throw new UserError($"{path} does not match the model: {missing.Count} missing ({string.Join(", ", missing.Take(3))}), {mismatched.Count} of another shape ({string.Join(", ", mismatched.Take(3))}); was it saved for another preset?");
        using var _ = no_grad();
        foreach (var (key, value) in target) value.copy_(tensors["model." + key]);
        UKan.Layers.KanLinear.RefreshGridCaches(model);
    }
}

// TEMPORARY: minimal safetensors I/O for training checkpoints (F32, F64, I64); replaced by UKan.Checkpoints when the
// checkpoint I/O layer lands.
static class TensorFile
{
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var items = tensors.Select(t => (t.Name, Value: t.Value.detach().cpu().contiguous())).OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object> { ["__metadata__"] = metadata };
        long offset = 0;
        var blobs = new List<byte[]>();
        foreach (var (name, value) in items)
        {
            var (code, bytes) = value.dtype switch
            {
                ScalarType.Float32 => ("F32", MemoryMarshal.AsBytes(value.data<float>().ToArray().AsSpan()).ToArray()),
                ScalarType.Float64 => ("F64", MemoryMarshal.AsBytes(value.data<double>().ToArray().AsSpan()).ToArray()),
                ScalarType.Int64 => ("I64", MemoryMarshal.AsBytes(value.data<long>().ToArray().AsSpan()).ToArray()),
                _ => throw new NotSupportedException($"dtype {value.dtype}"),
            };
            header[name] = new { dtype = code, shape = value.shape, data_offsets = new[] { offset, offset + bytes.Length } };
            offset += bytes.Length;
            blobs.Add(bytes);
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int pad = (8 - json.Length % 8) % 8;
        AtomicFile.Write(path, s =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(len, json.Length + pad);
            s.Write(len);
            s.Write(json);
            for (int i = 0; i < pad; i++) s.WriteByte((byte)' ');
            foreach (var b in blobs) s.Write(b);
        });
    }

    public static (Dictionary<string, Tensor>, Dictionary<string, string>) Read(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: checkpoint not found.");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw new UserError($"{path}: not a checkpoint (file too short); it may be truncated.");
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        if (n <= 0 || 8 + n > bytes.Length) throw new UserError($"{path}: corrupt or truncated checkpoint (header length {n}, file {bytes.Length} bytes).");
        var tensors = new Dictionary<string, Tensor>();
        var meta = new Dictionary<string, string>();
        try
        {
            using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
            foreach (var e in doc.RootElement.EnumerateObject())
            {
                if (e.Name == "__metadata__") { foreach (var m in e.Value.EnumerateObject()) meta[m.Name] = m.Value.GetString() ?? ""; continue; }
                var shape = e.Value.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
                var offs = e.Value.GetProperty("data_offsets").EnumerateArray().Select(v => v.GetInt64()).ToArray();
                if (8 + n + offs[1] > bytes.Length) throw new UserError($"{path}: truncated checkpoint (tensor {e.Name} runs past the end of the file).");
                var span = bytes.AsSpan((int)(8 + n + offs[0]), (int)(offs[1] - offs[0]));
                tensors[e.Name] = e.Value.GetProperty("dtype").GetString() switch
                {
                    "F32" => tensor(MemoryMarshal.Cast<byte, float>(span).ToArray()).reshape(shape),
                    "F64" => tensor(MemoryMarshal.Cast<byte, double>(span).ToArray()).reshape(shape),
                    "I64" => tensor(MemoryMarshal.Cast<byte, long>(span).ToArray()).reshape(shape),
                    var d => throw new UserError($"{path}: unsupported dtype {d}."),
                };
            }
        }
        catch (JsonException) { throw new UserError($"{path}: corrupt checkpoint (unreadable header)."); }
        return (tensors, meta);
    }
}
