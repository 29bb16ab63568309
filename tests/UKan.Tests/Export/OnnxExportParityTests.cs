using TorchSharp;
using UKan.Diagnostics;
using UKan.Export;
using UKan.Layers;
using UKan.Models;
using UKan.Tests.Parity;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Export;

/// <summary>
/// Exported models run in ONNX Runtime against TorchSharp (<see cref="OnnxCheck"/>: max |a−b| / max |b| ≤ 1e-4): the
/// official fixture weights and inputs at batch 1 and 3 and two sizes from one file with dynamic axes, the MLP mixer,
/// ALL U-KAN in its default and in non-default variants, and a file with fixed axes.
/// </summary>
public class OnnxExportParityTests
{
    /// <summary>Batches of 1 and 3 at the fixture's size and at 1.5× (bilinear), from the fixture's inputs.</summary>
    static IEnumerable<(string Label, Tensor X)> Inputs(Tensor x)
    {
        var three = cat([x, x.flip(3), -x.narrow(0, 0, 1)], 0).narrow(0, 0, 3);
        long size = x.shape[2];
        long larger = size * 3 / 2 / 32 * 32 == size ? size + 32 : size * 3 / 2 / 32 * 32;
        foreach (var batch in new[] { x.narrow(0, 0, 1), three })
        {
            yield return ($"batch {batch.shape[0]} at {size}", batch);
            yield return ($"batch {batch.shape[0]} at {larger}",
                F.interpolate(batch, size: [larger, larger], mode: InterpolationMode.Bilinear, align_corners: false));
        }
    }

    [Theory, MemberData(nameof(ParityFixtures.UKan), MemberType = typeof(ParityFixtures))]
    public void Fixture_weights_match_torch_at_batch_1_and_3_and_two_sizes(string name)
    {
        var (model, t, _) = SegUKanParityTests.Load(name);
        ReferenceFixtures.UndoRecordedTrainingPass(model, t["x"], t);
        var onnx = OnnxCheck.Export(model);
        foreach (var (label, x) in Inputs(t["x"])) OnnxCheck.AssertMatches(model, onnx, x, $"{name} {label}");
        // And against the official PyTorch model's own output on the fixture's batch.
        var official = OnnxCheck.RelativeError(t["y_eval"], OnnxCheck.Run(onnx, t["x"])[OnnxExporter.LogitsName]);
        Assert.True(official <= OnnxCheck.Tolerance, $"{name}: ONNX vs the official y_eval {official:G3} relative");
    }

    [Fact]
    public void Mlp_mixer_matches_torch()
    {
        _ = TestTorch.Runtime;
        var model = ModelFactory.Create(new ModelSpec { EmbedDims = ModelPresets.Resolve("tiny"), Preset = "tiny", Mixer = TokenMixer.Mlp });
        RandomiseNorms(model);
        var onnx = OnnxCheck.Export(model);
        // The fixture test covers every batch and size combination; here one of each.
        foreach (var (label, x) in Inputs(randn(2, 3, 64, 64)).Skip(1).Take(2)) OnnxCheck.AssertMatches(model, onnx, x, $"mlp {label}");
    }

    public static TheoryData<string> AllUKanVariants() => new()
    {
        "{}",
        "{\"relu\":false,\"padding\":\"before-activation\",\"sharing\":\"block\",\"activation\":{\"base_activation\":\"gelu\"}}",
        "{\"shift\":{\"mode\":\"fixed\"},\"sharing\":\"network\",\"linear_bias\":false,\"activation\":{\"spline_order\":2,\"learn_spline_scale\":false}}",
    };

    [Theory, MemberData(nameof(AllUKanVariants))]
    public void AllUKan_matches_torch(string options)
    {
        _ = TestTorch.Runtime;
        var spec = new ModelSpec
        {
            Architecture = Architecture.AllUKan,
            EmbedDims = ModelPresets.Resolve("tiny"),
            Preset = "tiny",
            ArchitectureOptions = System.Text.Json.JsonDocument.Parse(options).RootElement.Clone(),
        };
        var model = ModelFactory.Create(spec);
        RandomiseNorms(model);
        // ψ's coefficients start at ±0.01; larger ones make the spline branch matter in the comparison.
        using (no_grad())
            foreach (var m in model.modules().OfType<SharedActivation>()) m.Coefficients.copy_(randn_like(m.Coefficients) * 0.5);
        var onnx = OnnxCheck.Export(model);
        foreach (var (label, x) in Inputs(randn(2, 3, 64, 64)).Skip(1).Take(2)) OnnxCheck.AssertMatches(model, onnx, x, $"allukan {options} {label}");
    }

    [Theory]
    [InlineData(Architecture.UNet, "{\"width\":8}")]
    [InlineData(Architecture.AttUNet, "{\"width\":8}")]
    [InlineData(Architecture.UNetPlusPlus, "{\"width\":8}")]
    [InlineData(Architecture.UNetPlusPlus, "{\"width\":8,\"deep_supervision\":true}")]
    public void Convolutional_baselines_match_torch(Architecture architecture, string options) =>
        // Sides that are multiples of 16 but not of 32, not square.
        AssertBaselineMatches(new ModelSpec { Architecture = architecture, ArchitectureOptions = System.Text.Json.JsonDocument.Parse(options).RootElement.Clone() },
            $"{ArchitectureNames.Name(architecture)} {options}", (48, 80));

    [Theory]
    [InlineData(new[] { 32, 40, 64 })]
    [InlineData(new[] { 16, 13, 24 })]   // channel counts that do not split in five equal groups (13: groups of 3, the last of 1)
    public void Unext_matches_torch(int[] dims) =>
        AssertBaselineMatches(new ModelSpec { Architecture = Architecture.UNext, EmbedDims = dims, Preset = null }, $"unext [{string.Join(',', dims)}]", (32, 96));

    /// <summary>A fresh baseline with random norms against its file, at batch 1 and 3 and at one more, non-square size.</summary>
    static void AssertBaselineMatches(ModelSpec spec, string name, (int Height, int Width) other)
    {
        _ = TestTorch.Runtime;
        manual_seed(5);
        var model = ModelFactory.Create(spec);
        RandomiseNorms(model);
        var onnx = OnnxCheck.Export(model);
        foreach (var (label, x) in Inputs(randn(2, 3, 64, 64)).Skip(1).Take(2)) OnnxCheck.AssertMatches(model, onnx, x, $"{name} {label}");
        OnnxCheck.AssertMatches(model, onnx, randn(1, 3, other.Height, other.Width), $"{name} batch 1 at {other.Height}x{other.Width}");
    }

    [Fact]
    public void Fixed_batch_and_size_are_written_into_the_file()
    {
        var (model, t, _) = SegUKanParityTests.Load(ParityFixtures.UKan().First().Data);
        var onnx = OnnxCheck.Export(model, new OnnxExportOptions { Batch = 2, Size = (64, 64) });
        OnnxCheck.AssertMatches(model, onnx, t["x"], "fixed axes");
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(onnx);
        Assert.Equal([2, 3, 64, 64], session.InputMetadata[OnnxExporter.InputName].Dimensions);
        Assert.Throws<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(() => OnnxCheck.Run(onnx, t["x"].narrow(0, 0, 1)));
    }

    [Theory]
    [InlineData(18)]
    [InlineData(21)]
    public void Newer_opsets_load_and_match(int opset)
    {
        var (model, t, _) = SegUKanParityTests.Load(ParityFixtures.UKan().First().Data);
        ReferenceFixtures.UndoRecordedTrainingPass(model, t["x"], t);
        OnnxCheck.AssertMatches(model, OnnxCheck.Export(model, new OnnxExportOptions { Opset = opset }), t["x"], $"opset {opset}");
    }

    [Fact]
    public void Stacked_kan_is_refused_with_one_line()
    {
        _ = TestTorch.Runtime;
        var model = ModelFactory.Create(new ModelSpec { Architecture = Architecture.StackedKan, EmbedDims = ModelPresets.Resolve("tiny"), Preset = "tiny" });
        var e = Assert.Throws<UserError>(() => OnnxCheck.Export(model));
        Assert.Contains("stacked-KAN", e.Message);
    }

    /// <summary>BatchNorm statistics away from (0, 1), so that folding them into the convolutions is tested.</summary>
    internal static void RandomiseNorms(nn.Module model)
    {
        using var _ = no_grad();
        foreach (var bn in model.modules().OfType<TorchSharp.Modules.BatchNorm2d>())
        {
            bn.running_mean!.copy_(randn_like(bn.running_mean) * 0.1);
            bn.running_var!.copy_(rand_like(bn.running_var) + 0.5);
            bn.weight!.copy_(rand_like(bn.weight) + 0.5);
            bn.bias!.copy_(randn_like(bn.bias) * 0.1);
        }
    }
}
