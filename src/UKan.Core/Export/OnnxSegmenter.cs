using Microsoft.ML.OnnxRuntime;
using UKan.Data;
using UKan.Evaluation;
using static TorchSharp.torch;

namespace UKan.Export;

/// <summary>
/// Runs an exported ONNX model with ONNX Runtime on the CPU (all graph optimisations on), with the preprocessing its
/// metadata records: the same resizing, normalisation and write-back as the TorchSharp <see cref="Inference"/>, so that
/// <c>ukan predict --engine onnx</c> checks an exported file on a user's own images.
/// </summary>
public sealed class OnnxSegmenter : ISegmenter, IDisposable
{
    readonly InferenceSession session;
    readonly int channels;

    public OnnxMetadata Metadata { get; }
    public int Height { get; }
    public int Width { get; }
    public PreprocessingPreset Preset => Metadata.Preprocessing;
    /// <summary>The batch size fixed in the file, or null when the batch axis is dynamic.</summary>
    public int? FixedBatch { get; }

    /// <param name="size">Input size to use; null: the file's fixed size, else the size its metadata records.</param>
    /// <param name="threads">ONNX Runtime's intra-op threads; null: its default (one per core).</param>
    public OnnxSegmenter(string path, (int Height, int Width)? size = null, int? threads = null)
    {
        if (!File.Exists(path)) throw new UserError($"--weights {path}: no such file.");
        try { session = Open(path, threads); }
        catch (OnnxRuntimeException e)
        {
            throw new UserError($"--weights {path}: ONNX Runtime cannot load it ({CleanMessage(e)}); give a file written by 'ukan export onnx'.");
        }
        try
        {
            Metadata = OnnxMetadata.Read(session.ModelMetadata.CustomMetadataMap, path);
            if (!session.InputMetadata.TryGetValue(OnnxExporter.InputName, out var input) || input.Dimensions.Length != 4)
                throw new UserError($"--weights {path}: the model has no 4-D input '{OnnxExporter.InputName}'; export it with 'ukan export onnx'.");
            var dims = input.Dimensions;
            channels = dims[1];
            FixedBatch = dims[0] > 0 ? dims[0] : null;
            (int, int)? fixedSize = dims[2] > 0 && dims[3] > 0 ? (dims[2], dims[3]) : null;
            if (fixedSize is { } f && size is { } asked && asked != f)
                throw new UserError($"--size {asked.Height}x{asked.Width}: {path} was exported for {f.Item1}x{f.Item2} inputs only; drop --size, or export with --size dynamic.");
            (Height, Width) = fixedSize ?? size ?? (Metadata.Height, Metadata.Width);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// An ONNX Runtime session on the CPU as a consumer would open it: every graph optimisation on (ORT_ENABLE_ALL).
    /// <paramref name="model"/> is a path or the file's bytes; <paramref name="threads"/> null: ORT's default.
    /// </summary>
    public static InferenceSession Open(object model, int? threads = null)
    {
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads is int t) options.IntraOpNumThreads = t;
        return model switch
        {
            string path => new InferenceSession(path, options),
            byte[] bytes => new InferenceSession(bytes, options),
            _ => throw new ArgumentException("a path or the bytes of an ONNX model", nameof(model)),
        };
    }

    /// <summary>
    /// Probabilities (classes, H, W) at each input's own size. A file exported for a fixed batch runs in batches of that
    /// size, the last one filled up with zeros.
    /// </summary>
    public IReadOnlyList<Tensor> Probabilities(IReadOnlyList<Raster> images)
    {
        int batch = FixedBatch ?? images.Count;
        var result = new List<Tensor>();
        foreach (var chunk in images.Chunk(batch))
        {
            using var scope = NewDisposeScope();
            var input = Inference.Prepare(chunk, Height, Width, Preset, channels);
            if (chunk.Length < batch) Array.Resize(ref input, input.Length / chunk.Length * batch);
            var (probs, shape) = Run(input, batch);
            var all = tensor(probs).reshape(shape);
            result.AddRange(Inference.ToImageSizes(all.narrow(0, 0, chunk.Length), chunk));
        }
        return result;
    }

    /// <summary>The <c>probabilities</c> output for an input of (batch, channels, Height, Width) floats, and its shape.</summary>
    public (float[] Values, long[] Shape) Run(float[] input, int batch)
    {
        long[] shape = [batch, channels, Height, Width];
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var run = new RunOptions();
        using var outputs = session.Run(run, [OnnxExporter.InputName], [value], [OnnxExporter.ProbabilitiesName]);
        var output = outputs[0];
        return (output.GetTensorDataAsSpan<float>().ToArray(), output.GetTensorTypeAndShape().Shape);
    }

    public void Dispose() => session.Dispose();

    static string CleanMessage(Exception e) => e.Message.Split('\n')[0].Trim().TrimEnd('.');
}
