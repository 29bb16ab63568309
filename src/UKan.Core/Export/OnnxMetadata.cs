using System.Globalization;
using UKan.Data;
using UKan.Models;

namespace UKan.Export;

/// <summary>
/// What an exported file tells its consumer, as ONNX metadata_props (string key → string value; docs/deploy.md lists
/// them). Written by <see cref="OnnxExporter"/>, read back by <see cref="OnnxSegmenter"/> for <c>ukan predict --engine onnx</c>.
/// </summary>
public sealed record OnnxMetadata
{
    public const string FormatVersion = "1";
    /// <summary>The decision threshold on the probabilities that makes the mask (predict's rule).</summary>
    public const double DefaultThreshold = 0.5;

    public required ModelSpec Spec { get; init; }
    public required PreprocessingPreset Preprocessing { get; init; }
    /// <summary>The input size the model was trained at (or asked for): what to resize images to.</summary>
    public required int Height { get; init; }
    public required int Width { get; init; }
    public double Threshold { get; init; } = DefaultThreshold;
    public required string UkanVersion { get; init; }
    /// <summary>The weights file exported, its SHA-256 (hex) and the run folder it belongs to (null when none).</summary>
    public required string SourceWeights { get; init; }
    public required string SourceSha256 { get; init; }
    public string? SourceRun { get; init; }

    /// <summary>Class names: the mask folder names of the dataset layout (masks/0, masks/1, …).</summary>
    public IReadOnlyList<string> ClassNames => Enumerable.Range(0, Spec.NumClasses).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    static string Floats(IEnumerable<float> values) => string.Join(',', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    public IEnumerable<KeyValuePair<string, string>> ToProps()
    {
        int c = Spec.InChannels;
        var (shift, scale) = Data.Preprocessing.Normalisation(c, Preprocessing);
        bool official = Preprocessing == PreprocessingPreset.Official;
        var order = c == 3 ? Data.Preprocessing.Order(Preprocessing).ToString().ToUpperInvariant() : c == 1 ? "GRAY" : "AS_STORED";
        var mean = c == 3 ? Data.Preprocessing.ImageNetMean : Enumerable.Repeat(0.5f, c).ToArray();
        var std = c == 3 ? Data.Preprocessing.ImageNetStd : Enumerable.Repeat(0.5f, c).ToArray();
        var props = new Dictionary<string, string>
        {
            ["ukan.format_version"] = FormatVersion,
            ["ukan.version"] = UkanVersion,
            ["model.name"] = Spec.Architecture switch { Architecture.AllUKan => "ALL U-KAN", Architecture.StackedKan => "stacked KAN", _ => "U-KAN" },
            ["model.architecture"] = Spec.Architecture.ToString().ToLowerInvariant(),
            ["model.preset"] = Spec.Preset ?? "custom",
            ["model.mixer"] = Spec.Mixer.ToString().ToLowerInvariant(),
            ["model.spec"] = Spec.ToJson(),
            ["source.weights"] = SourceWeights,
            ["source.sha256"] = SourceSha256,
            ["input.name"] = OnnxExporter.InputName,
            ["input.layout"] = "NCHW",
            ["input.channels"] = c.ToString(CultureInfo.InvariantCulture),
            ["input.size"] = $"{Height}x{Width}",
            ["preprocessing.preset"] = Preprocessing.ToString().ToLowerInvariant(),
            ["preprocessing.channel_order"] = order,
            ["preprocessing.resize"] = "bilinear, half-pixel centres, to input.size (HxW), aspect ratio not kept",
            ["preprocessing.mean"] = Floats(mean),
            ["preprocessing.std"] = Floats(std),
            ["preprocessing.divide_again"] = official ? "255" : "1",
            ["preprocessing.formula"] = official
                ? "x[c] = (pixel[c]/255 - mean[c]) / std[c] / 255, channel c in channel_order (the official double normalisation)"
                : "x[c] = (pixel[c]/255 - mean[c]) / std[c], channel c in channel_order",
            ["preprocessing.shift"] = Floats(shift),
            ["preprocessing.scale"] = Floats(scale),
            ["output.logits"] = "(batch, classes, H, W) raw scores",
            ["output.probabilities"] = "(batch, classes, H, W) sigmoid(logits); resize to the image size (bilinear) before thresholding",
            ["classes"] = string.Join(',', ClassNames),
            ["threshold"] = Threshold.ToString("R", CultureInfo.InvariantCulture),
        };
        if (SourceRun is not null) props["source.run"] = SourceRun;
        return props;
    }

    /// <summary>Reads the metadata of a file this exporter wrote; <paramref name="path"/> names it in errors.</summary>
    public static OnnxMetadata Read(IReadOnlyDictionary<string, string> props, string path)
    {
        string Need(string key) => props.TryGetValue(key, out var v) ? v
            : throw new UserError($"--weights {path}: the ONNX file lacks the metadata '{key}' that ukan writes; export it with 'ukan export onnx'.");
        if (Need("ukan.format_version") != FormatVersion)
            throw new UserError($"--weights {path}: ONNX metadata format {props["ukan.format_version"]} is not {FormatVersion}; export the file again with this ukan.");
        var size = Need("input.size").Split('x');
        if (size.Length != 2 || !int.TryParse(size[0], out var h) || !int.TryParse(size[1], out var w) || h < 1 || w < 1)
            throw new UserError($"--weights {path}: metadata input.size '{props["input.size"]}' is not HxW; export the file again.");
        if (!double.TryParse(Need("threshold"), CultureInfo.InvariantCulture, out var threshold))
            throw new UserError($"--weights {path}: metadata threshold '{props["threshold"]}' is not a number; export the file again.");
        return new OnnxMetadata
        {
            Spec = ModelSpec.FromJson(Need("model.spec"), path),
            Preprocessing = Data.Preprocessing.Parse(Need("preprocessing.preset")),
            Height = h,
            Width = w,
            Threshold = threshold,
            UkanVersion = Need("ukan.version"),
            SourceWeights = Need("source.weights"),
            SourceSha256 = Need("source.sha256"),
            SourceRun = props.GetValueOrDefault("source.run"),
        };
    }
}
