using System.Reflection;
using TorchSharp;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Export;

/// <summary>
/// Exports a segmentation model (Seg U-KAN with KAN or MLP mixers, ALL U-KAN) as an ONNX model: input <c>input</c>
/// (batch, channels, H, W) float32, outputs <c>logits</c> and <c>probabilities</c> = sigmoid(logits), both (batch,
/// classes, H, W), with the metadata of <see cref="OnnxMetadata"/>. TorchSharp has no exporter; the graph is written
/// node by node from the module tree (<see cref="SegUKanGraph"/>, <see cref="OnnxLayers"/>, <see cref="OnnxKan"/>).
/// </summary>
public static class OnnxExporter
{
    public const string InputName = "input", LogitsName = "logits", ProbabilitiesName = "probabilities";
    public const int DefaultOpset = 17, MinOpset = 17, MaxOpset = 21;

    /// <summary>The version string of this build of ukan (written as producer_version and ukan.version).</summary>
    public static string UkanVersion =>
        typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "?";

    /// <summary>Refuses an opset the graph cannot be written for, in one line.</summary>
    public static void CheckOpset(int opset)
    {
        if (opset < MinOpset)
            throw new UserError($"--opset {opset}: the graph needs opset {MinOpset} or newer (LayerNormalization came with 17); use --opset 17.");
        if (opset > MaxOpset)
            throw new UserError($"--opset {opset}: not supported; this exporter writes opsets {MinOpset} to {MaxOpset} (17 is the default).");
    }

    /// <summary>The encoded ONNX model; <paramref name="model"/> is put in evaluation mode on the CPU side for reading.</summary>
    public static byte[] Export(nn.Module<Tensor, Tensor> model, OnnxMetadata metadata, OnnxExportOptions options) =>
        Encode(Build(model, metadata, options), metadata);

    /// <summary>The ModelProto of a built graph with its metadata.</summary>
    public static byte[] Encode(OnnxGraphBuilder graph, OnnxMetadata metadata) =>
        graph.ToModel(metadata.Spec.Describe(), UkanVersion,
            $"{metadata.Spec.Describe()}; inputs {metadata.Preprocessing.ToString().ToLowerInvariant()} preprocessing (see metadata)",
            metadata.ToProps());

    /// <summary>The graph before encoding (its operator counts are reported by the CLI).</summary>
    public static OnnxGraphBuilder Build(nn.Module<Tensor, Tensor> model, OnnxMetadata metadata, OnnxExportOptions options)
    {
        CheckOpset(options.Opset);
        bool baseline = BaselineGraph.Covers(model);
        if (!(baseline || model is SegUKan { Spec.Architecture: not Architecture.StackedKan }) || model is not ISegmentationModel net)
            throw new UserError($"ONNX export: {(model is ISegmentationModel s ? ArchitectureNames.Name(s.Spec.Architecture) : model.GetType().Name)} models cannot be exported yet; "
                + "the exporter covers ukan (KAN or --mlp mixers), allukan, unet, attunet, unetpp and unext (the stacked-KAN baseline's KAN "
                + "convolutions have no emitter).");
        if (metadata.Spec.Loss == SegmentationLoss.CeDice)
            throw new UserError("ONNX export: softmax (ce-dice) models cannot be exported yet; the graph's probabilities output is a sigmoid per class.");
        if (options.Batch is < 1) throw new UserError($"--batch {options.Batch}: must be at least 1, or dynamic.");
        int multiple = baseline ? BaselineGraph.SizeMultiple(model) : 32;
        if (options.Size is ({ } h, { } w) && (h % multiple != 0 || w % multiple != 0 || h < multiple || w < multiple))
            throw new UserError($"--size {h}x{w}: {ArchitectureNames.Name(net.Spec.Architecture)} needs multiples of {multiple} " +
                                $"({(multiple == 16 ? "four" : "five")} halvings).");
        model.eval();
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var g = new OnnxGraphBuilder(options.Opset);
        var spec = net.Spec;
        OnnxDim Axis(int? size, string symbol) => size is int n ? new OnnxDim(n) : OnnxDim.Dynamic(symbol);
        OnnxDim[] Dims(int channels) =>
            [Axis(options.Batch, "batch"), new OnnxDim(channels), Axis(options.Size?.Height, "height"), Axis(options.Size?.Width, "width")];
        var x = g.Input(InputName, Dims(spec.InChannels));
        var logits = baseline ? BaselineGraph.Emit(g, model, x) : SegUKanGraph.Emit(g, (SegUKan)model, x);
        g.Output(logits, LogitsName, Dims(spec.NumClasses));
        g.Output(g.Op("Sigmoid", [logits]), ProbabilitiesName, Dims(spec.NumClasses));
        return g;
    }

    /// <summary>SHA-256 of a file, lower-case hex (the source weights' fingerprint in the metadata).</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(stream)).ToLowerInvariant();
    }
}
