using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using UKan.Data;
using UKan.Export;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Benchmarks;

/// <summary>One model's CPU inference time in TorchSharp and in ONNX Runtime (its exported graph), on the same input.</summary>
public sealed record OnnxBenchResult(string Model, long Parameters, int Batch, int Size, int Threads, Timing Torch, Timing Onnx,
    double MaxRelativeDifference, int OnnxNodes, double OnnxMiB);

/// <summary>
/// Times the forward pass (evaluation mode, no gradients) on the CPU: TorchSharp's module against ONNX Runtime running
/// the graph <see cref="OnnxExporter"/> writes for it (graph optimisations ORT_ENABLE_ALL, the same thread count as
/// torch). Weights are the fresh initialisation: timing does not depend on their values. Both outputs are the logits;
/// ORT also computes the sigmoid probabilities, which costs one element-wise pass.
/// </summary>
public static class OnnxBench
{
    public static OnnxBenchResult Run(ModelSpec spec, int batch, int size, int warmup, int runs)
    {
        using var scope = NewDisposeScope();
        var model = ModelFactory.Create(spec);
        model.eval();
        var metadata = new OnnxMetadata
        {
            Spec = spec,
            Preprocessing = PreprocessingPreset.Official,
            Height = size,
            Width = size,
            UkanVersion = OnnxExporter.UkanVersion,
            SourceWeights = "(fresh initialisation)",
            SourceSha256 = "-",
        };
        var graph = OnnxExporter.Build(model, metadata, new OnnxExportOptions());
        var bytes = OnnxExporter.Encode(graph, metadata);
        int threads = get_num_threads();
        var x = randn(batch, spec.InChannels, size, size);

        Tensor expected;
        using (no_grad()) expected = model.call(x);
        var torchTime = BenchTimer.Measure(() =>
        {
            using var step = NewDisposeScope();
            using var _ = no_grad();
            model.call(x);
        }, warmup, runs, CPU);

        using var session = OnnxSegmenter.Open(bytes, threads);
        var data = x.contiguous().data<float>().ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(data, x.shape);
        using var run = new RunOptions();
        string[] inputNames = [OnnxExporter.InputName], outputNames = [OnnxExporter.LogitsName, OnnxExporter.ProbabilitiesName];
        var onnxTime = BenchTimer.Measure(() => session.Run(run, inputNames, [input], outputNames).Dispose(), warmup, runs, CPU);
        using var outputs = session.Run(run, inputNames, [input], outputNames);
        var logits = tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray()).reshape(expected.shape);
        var difference = RelativeDifference(expected, logits);
        return new OnnxBenchResult(spec.Describe(), ModelFactory.CountParameters(model), batch, size, threads, torchTime, onnxTime,
            difference, graph.NodeCount, bytes.Length / 1048576.0);
    }

    /// <summary>The norm ONNX outputs are compared with: max |actual − expected| / max |expected| (in float64).</summary>
    public static double RelativeDifference(Tensor expected, Tensor actual)
    {
        using var scope = NewDisposeScope();
        var e = expected.detach().to(float64).cpu();
        return ((actual.detach().to(float64).cpu() - e).abs().max() / e.abs().max()).item<double>();
    }
}
