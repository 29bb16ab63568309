using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using UKan.Data;
using UKan.Export;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Export;

/// <summary>
/// Runs exported graphs in ONNX Runtime (CPU, every graph optimisation on, as a consumer would load them) and compares
/// them with TorchSharp. The norm: max |onnx − torch| / max |torch| over the whole output, at most 1e-4.
/// </summary>
public static class OnnxCheck
{
    public const double Tolerance = 1e-4;

    /// <summary>The outputs of <paramref name="model"/> for one float input, by output name.</summary>
    public static Dictionary<string, Tensor> Run(byte[] model, Tensor input, string inputName = OnnxExporter.InputName)
    {
        using var session = OnnxSegmenter.Open(model);
        var data = input.detach().to(float32).cpu().contiguous().data<float>().ToArray();
        using var value = OrtValue.CreateTensorValueFromMemory(data, input.shape);
        using var run = new RunOptions();
        var names = session.OutputNames.ToArray();
        using var outputs = session.Run(run, [inputName], [value], names);
        var result = new Dictionary<string, Tensor>();
        for (int i = 0; i < names.Length; i++)
            result[names[i]] = tensor(outputs[i].GetTensorDataAsSpan<float>().ToArray()).reshape(outputs[i].GetTensorTypeAndShape().Shape);
        return result;
    }

    /// <summary>max |actual − expected| / max |expected|.</summary>
    public static double RelativeError(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.shape, actual.shape);
        return UKan.Benchmarks.OnnxBench.RelativeDifference(expected, actual);
    }

    /// <summary>Exports <paramref name="model"/> with dynamic axes unless given, and returns the file's bytes.</summary>
    public static byte[] Export(nn.Module<Tensor, Tensor> model, OnnxExportOptions? options = null) =>
        OnnxExporter.Export(model, Metadata(((ISegmentationModel)model).Spec), options ?? new OnnxExportOptions());

    public static OnnxMetadata Metadata(ModelSpec spec) => new()
    {
        Spec = spec,
        Preprocessing = PreprocessingPreset.Official,
        Height = 64,
        Width = 64,
        UkanVersion = OnnxExporter.UkanVersion,
        SourceWeights = "test",
        SourceSha256 = "0",
    };

    /// <summary>
    /// ONNX Runtime's logits and probabilities against TorchSharp's forward (eval, no grad) on <paramref name="x"/>;
    /// returns the relative error of the logits.
    /// </summary>
    public static double AssertMatches(nn.Module<Tensor, Tensor> model, byte[] onnx, Tensor x, string what)
    {
        Tensor expected;
        model.eval();
        using (no_grad()) expected = model.call(x);
        var outputs = Run(onnx, x);
        var error = RelativeError(expected, outputs[OnnxExporter.LogitsName]);
        Assert.True(error <= Tolerance, $"{what}: logits differ by {error:G3} relative (max |a-b| / max |b|), more than {Tolerance}");
        var probError = RelativeError(expected.sigmoid(), outputs[OnnxExporter.ProbabilitiesName]);
        Assert.True(probError <= Tolerance, $"{what}: probabilities differ by {probError:G3} relative");
        TestContext.Current.TestOutputHelper?.WriteLine($"{what}: logits max |onnx - torch| / max |torch| = {error:G3}, probabilities {probError:G3}");
        return error;
    }
}
