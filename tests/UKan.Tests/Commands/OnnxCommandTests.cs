using TorchSharp;
using UKan.Cli.Commands;
using UKan.Data;
using UKan.Evaluation;
using UKan.Export;
using UKan.Models;
using UKan.Tests.Export;
using UKan.Tests.Parity;
using static TorchSharp.torch;

namespace UKan.Tests.Commands;

/// <summary>
/// <c>ukan export onnx</c> on the official fixture checkpoint (.pth with --preset tiny), then <c>ukan predict</c> with the
/// ONNX Runtime engine against the TorchSharp engine on demo images: equal mask pixel counts, probabilities within 1e-4.
/// </summary>
public class OnnxCommandTests
{
    static string? exported;

    static string Pth() => ParityFixtures.Get("ukan_tiny").PthPath ?? throw new InvalidOperationException("the ukan_tiny fixture ships no .pth");

    /// <summary>The fixture exported once through the CLI (dynamic axes).</summary>
    internal static string Exported()
    {
        if (exported is null)
        {
            var path = Path.Combine(BadInputTests.Temp(), "tiny.onnx");
            var r = CliRunner.Run("export", "onnx", "--weights", Pth(), "--preset", "tiny", "--out", path);
            Assert.True(r.Code == 0, r.Stderr);
            Assert.Contains("LayerNormalization", r.Stdout);
            exported = path;
        }
        return exported;
    }

    static string[] DemoImages(int count) => ImageFile.ListImages(Path.Combine(DemoCommand.FindDemoData(), "images")).Take(count).ToArray();

    [Fact]
    public void Metadata_states_the_preprocessing_and_the_source()
    {
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Exported());
        var meta = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("official", meta["preprocessing.preset"]);
        Assert.Equal("BGR", meta["preprocessing.channel_order"]);
        Assert.Equal("255", meta["preprocessing.divide_again"]);
        Assert.Equal("0.485,0.456,0.406", meta["preprocessing.mean"]);
        Assert.Equal("256x256", meta["input.size"]);
        Assert.Equal("0.5", meta["threshold"]);
        Assert.Equal("tiny", meta["model.preset"]);
        Assert.Equal(OnnxExporter.Sha256(Pth()), meta["source.sha256"]);
        Assert.Equal(["input"], session.InputNames);
        Assert.Equal(["logits", "probabilities"], session.OutputNames);
        var read = OnnxMetadata.Read(meta, "x");
        Assert.Equal(ModelPresets.Resolve("tiny"), read.Spec.EmbedDims);
        // The normalisation numbers in the file are the ones Preprocessing applies.
        var (shift, scale) = Preprocessing.Normalisation(3, PreprocessingPreset.Official);
        Assert.Equal(shift, meta["preprocessing.shift"].Split(',').Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(scale, meta["preprocessing.scale"].Split(',').Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void Onnx_segmenter_gives_torch_probabilities_on_demo_images()
    {
        _ = TestTorch.Runtime;
        var (net, spec) = ModelLoader.Load(Pth(), _ => new ModelSpec { EmbedDims = ModelPresets.Resolve("tiny"), Preset = "tiny" });
        var images = DemoImages(3).Select(f => ImageOps.ToColor8(ImageFile.Read(f), ChannelOrder.Bgr)).ToList();
        using var onnx = new OnnxSegmenter(Exported(), (64, 64));
        var torchEngine = new Inference(net, 64, 64, PreprocessingPreset.Official, spec.InChannels, CPU);
        using var scope = NewDisposeScope();
        var expected = torchEngine.Probabilities(images);
        var actual = onnx.Probabilities(images);
        for (int i = 0; i < images.Count; i++)
        {
            var diff = (expected[i] - actual[i]).abs().max().item<float>();
            Assert.True(diff <= 1e-4, $"image {i}: probabilities differ by {diff}");
            Assert.Equal(expected[i].gt(0.5).sum().item<long>(), actual[i].gt(0.5).sum().item<long>());
        }
    }

    [Fact]
    public void Predict_with_the_onnx_engine_writes_the_masks_of_the_torch_engine()
    {
        var images = Path.Combine(BadInputTests.Temp(), "images");
        Directory.CreateDirectory(images);
        foreach (var f in DemoImages(3)) File.Copy(f, Path.Combine(images, Path.GetFileName(f)));
        var (viaTorch, viaOnnx) = (BadInputTests.Temp(), BadInputTests.Temp());
        var t = CliRunner.Run("predict", "--weights", Pth(), "--preset", "tiny", "--size", "64", "--probabilities", images, "--out", viaTorch);
        Assert.True(t.Code == 0, t.Stderr);
        var o = CliRunner.Run("predict", "--engine", "onnx", "--weights", Exported(), "--size", "64", "--probabilities", images, "--out", viaOnnx);
        Assert.True(o.Code == 0, o.Stderr);
        Assert.Contains("ONNX Runtime", o.Stdout);
        foreach (var mask in Directory.GetFiles(viaTorch, "*.png").Where(f => !f.EndsWith("_prob.png")))
        {
            var name = Path.GetFileName(mask);
            long Count(string dir) => ImageFile.Read(Path.Combine(dir, name)).Pixels8.Count(v => v != 0);
            Assert.Equal(Count(viaTorch), Count(viaOnnx));
            // 16-bit probability maps: within 1e-4 plus one quantisation step.
            var (a, b) = (ImageFile.Read(Path.Combine(viaTorch, name[..^4] + "_prob.png")), ImageFile.Read(Path.Combine(viaOnnx, name[..^4] + "_prob.png")));
            var worst = a.Pixels16.Zip(b.Pixels16).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(worst <= 1e-4 * 65535 + 1, $"{name}: probability maps differ by {worst / 65535.0}");
        }
    }

    [Fact]
    public void A_run_folder_exports_with_the_runs_size_and_matches_its_weights()
    {
        var (run, _) = BadInputTests.TrainedRun();
        var path = Path.Combine(BadInputTests.Temp(), "run.onnx");
        var r = CliRunner.Run("export", "onnx", "--weights", run, "--out", path);
        Assert.True(r.Code == 0, r.Stderr);
        using (var session = OnnxSegmenter.Open(path))
        {
            var meta = session.ModelMetadata.CustomMetadataMap;
            Assert.Equal("32x32", meta["input.size"]);
            Assert.Equal(Path.GetFileName(run), meta["source.run"]);
            Assert.Equal(OnnxExporter.Sha256(Path.Combine(run, "model.safetensors")), meta["source.sha256"]);
        }
        var (net, _) = ModelLoader.Load(Path.Combine(run, "model.safetensors"));
        OnnxCheck.AssertMatches(net, File.ReadAllBytes(path), randn(2, 3, 32, 32), "trained run");
        BadInputTests.AssertRefused(CliRunner.Run("export", "onnx", "--weights", run, "--size", "64", "--out", path + "2"), "trained at 32x32");
    }

    [Fact]
    public void Bench_onnx_times_both_engines_and_reports_their_difference()
    {
        var r = CliRunner.Run("bench", "onnx", "--preset", "tiny", "--size", "64", "--warmup", "0", "--runs", "2");
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Contains("TorchSharp CPU", r.Stdout);
        Assert.Contains("ONNX Runtime CPU", r.Stdout);
        var difference = double.Parse(System.Text.RegularExpressions.Regex.Match(r.Stdout, @"max \|onnx - torch\| / max \|torch\| = ([^;]+);").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(difference <= OnnxCheck.Tolerance, $"bench: logits differ by {difference}");
    }
}
