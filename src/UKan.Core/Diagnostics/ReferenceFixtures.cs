using System.Text.Json;
using TorchSharp;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Diagnostics;

/// <summary>
/// The tensors made by the official PyTorch code for parity checks (shared/fixtures, README there; a copy is
/// committed in tests/fixtures): every NAME.json with a NAME.safetensors beside it. The json alone decides the
/// configuration; keys it lacks take the official defaults. Used by the CPU parity tests and by
/// <c>ukan selftest --fixtures</c>, which runs the same comparisons on the compute device.
/// </summary>
public static class ReferenceFixtures
{
    public sealed record Fixture(string Name, string JsonPath, string TensorsPath, JsonElement Config)
    {
        public override string ToString() => Name;
        public string? PthPath => File.Exists(Path.ChangeExtension(JsonPath, ".pth")) ? Path.ChangeExtension(JsonPath, ".pth") : null;
        public int Int(string key, int fallback) => Config.TryGetProperty(key, out var v) ? v.GetInt32() : fallback;
        public double Double(string key, double fallback) => Config.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        public bool Bool(string key, bool fallback) => Config.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;
        public string? String(string key) => Config.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        /// <summary>A KANLinear fixture: its json names in_features.</summary>
        public bool IsKanLinear => Config.TryGetProperty("in_features", out _);
        /// <summary>A Seg U-KAN fixture: its json names embed_dims.</summary>
        public bool IsSegUKan => Config.TryGetProperty("embed_dims", out _);
        public Dictionary<string, Tensor> ReadTensors() => UKan.Checkpoints.SafeTensors.Read(TensorsPath).Tensors;
    }

    /// <summary>Environment variable that names the fixture folder, ahead of every default.</summary>
    public const string Variable = "UKAN_FIXTURES";

    /// <summary>
    /// The team's fixtures beside the repository (../shared/fixtures/ukan-reference), else the copy committed in the
    /// repository (tests/fixtures/ukan-reference), each relative to <paramref name="root"/>; null when neither exists.
    /// </summary>
    public static string? Locate(string root) =>
        new[] { Path.Combine(root, "..", "shared", "fixtures", "ukan-reference"), Path.Combine(root, "tests", "fixtures", "ukan-reference") }
            .FirstOrDefault(Directory.Exists);

    /// <summary>The fixtures in <paramref name="folder"/>, by name; none when the folder does not exist.</summary>
    public static IEnumerable<Fixture> In(string folder)
    {
        if (!Directory.Exists(folder)) yield break;
        foreach (var json in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            var tensors = Path.ChangeExtension(json, ".safetensors");
            if (!File.Exists(tensors)) continue;
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) continue;
            yield return new Fixture(Path.GetFileNameWithoutExtension(json), json, tensors, doc.RootElement.Clone());
        }
    }

    /// <summary>The official KANLinear of a fixture, with its parameters and grid, on the CPU.</summary>
    public static KanLinear LoadKanLinear(Fixture f, IReadOnlyDictionary<string, Tensor> t, KanPath path)
    {
        var options = new KanLinearOptions
        {
            GridSize = f.Int("grid_size", 5),
            SplineOrder = f.Int("spline_order", 3),
            ScaleNoise = f.Double("scale_noise", 0.1),
            ScaleBase = f.Double("scale_base", 1.0),
            ScaleSpline = f.Double("scale_spline", 1.0),
            StandaloneSplineScaler = f.Bool("enable_standalone_scale_spline", true),
            GridEps = f.Double("grid_eps", 0.02),
            GridMin = f.Config.TryGetProperty("grid_range", out var r) ? r[0].GetDouble() : -1.0,
            GridMax = f.Config.TryGetProperty("grid_range", out var r2) ? r2[1].GetDouble() : 1.0,
            BaseActivation = Enum.Parse<BaseActivation>(f.String("base_activation") ?? "SiLU", ignoreCase: true),
        };
        var layer = new KanLinear(f.Int("in_features", 0), f.Int("out_features", 0), options) { Path = path };
        CopyParameters(layer, t);
        layer.RefreshGridCache();
        return layer;
    }

    /// <summary>
    /// The loss the fixture's json states for its gradients (default sum(y)). The fixtures use two forms, written
    /// out here (whitespace in the json is ignored); another form is an error that names it.
    /// </summary>
    public static Tensor KanLinearLoss(Fixture f, KanLinear layer, Tensor x, Tensor y)
    {
        var stated = f.String("loss") ?? "sum(y)";
        return string.Concat(stated.Where(c => !char.IsWhiteSpace(c))) switch
        {
            "sum(y)" => y.sum(),
            "sum(y*linspace(-1,1,out))+0.1*sum(y^2)" =>
                (y * linspace(-1, 1, layer.OutFeatures, device: y.device)).sum() + 0.1 * y.pow(2).sum(),
            _ => throw new NotSupportedException(
                $"fixture {f.Name}: loss '{stated}' is not a known form (sum(y), sum(y * linspace(-1,1,out)) + 0.1*sum(y^2))"),
        };
    }

    /// <summary>The official Seg U-KAN of a fixture with its state dict, on the CPU.</summary>
    public static SegUKan LoadSegUKan(Fixture f, IReadOnlyDictionary<string, Tensor> t)
    {
        var spec = new ModelSpec
        {
            EmbedDims = f.Config.GetProperty("embed_dims").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            NumClasses = f.Int("num_classes", 1),
            InChannels = f.Int("input_channels", 3),
            // The official no_kan flag never reaches the blocks: an official "no_kan" fixture is a KAN model.
            Mixer = TokenMixer.Kan,
            Preset = null,
        };
        var model = (SegUKan)ModelFactory.Create(spec);
        CopyParameters(model, t);
        KanLinear.RefreshGridCaches(model);
        return model;
    }

    static void CopyParameters(nn.Module module, IReadOnlyDictionary<string, Tensor> t)
    {
        var state = module.state_dict();
        using var _ = no_grad();
        foreach (var (key, value) in t.Where(kv => kv.Key.StartsWith("param.")))
            state[key["param.".Length..]].copy_(value);
    }

    /// <summary>
    /// A fixture whose BatchNorm layers report num_batches_tracked = 1 was saved after its one training-mode
    /// forward pass, which moved every running statistic by momentum 0.1 towards that batch's statistics; y_eval was
    /// taken before it. Replaying the same pass from the saved state moves them once more, which gives the batch
    /// statistics and so the values before the first pass: pre = (1.9·saved − replayed)/0.9.
    /// </summary>
    public static void UndoRecordedTrainingPass(nn.Module<Tensor, Tensor> model, Tensor x, IReadOnlyDictionary<string, Tensor> t)
    {
        var tracked = t.Where(kv => kv.Key.EndsWith(".num_batches_tracked")).Select(kv => kv.Value.item<long>()).Distinct().ToArray();
        if (tracked is not [1]) return;
        var saved = model.named_buffers().Where(b => b.name.Contains(".running_"))
            .ToDictionary(b => b.name, b => b.buffer.clone());
        model.train();
        using (no_grad())
        {
            model.call(x);
            foreach (var (name, buffer) in model.named_buffers())
                if (saved.TryGetValue(name, out var s)) buffer.copy_((1.9 * s - buffer) / 0.9);
        }
    }
}
