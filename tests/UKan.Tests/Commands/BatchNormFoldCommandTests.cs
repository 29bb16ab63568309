using UKan.Data;
using UKan.Evaluation;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Commands;

/// <summary>
/// <c>ukan predict</c> runs the model with each conv → BN pair folded into one convolution; its masks must be those of
/// the unfolded model (pixels may differ only where the probability sits at the threshold, within float rounding).
/// </summary>
public class BatchNormFoldCommandTests
{
    [Fact]
    public void Predict_gives_the_masks_of_the_unfolded_model()
    {
        var (run, _) = BadInputTests.TrainedRun();
        var demo = Path.Combine(SegmenterTests.RepoRoot(), "data", "demo", "kvasir-seg-48", "images");
        var output = BadInputTests.Temp();
        var r = CliRunner.Run("predict", "--weights", run, demo, "--out", output, "--batch", "1");
        Assert.True(r.Code == 0, r.Stderr);

        var weights = InferenceModel.WeightsIn(run);
        var folded = InferenceModel.Load(weights, ModelRequest.None, null, null, null, CPU);
        Assert.Contains(folded.Net.named_modules(), m => m.module is FoldedConv);
        var (net, spec) = ModelLoader.Load(weights);
        net.eval();
        var unfolded = folded with { Net = net, Spec = spec };
        Assert.DoesNotContain(unfolded.Net.named_modules(), m => m.module is FoldedConv);
        using var segmenter = new Segmenter(unfolded, CPU);
        int compared = 0;
        foreach (var file in ImageFile.ListImages(demo).Take(6))
        {
            var expected = segmenter.Predict(file);
            var written = ImageFile.Read(Path.Combine(output, Path.GetFileNameWithoutExtension(file) + ".png")).Pixels8;
            var mask = expected.MaskImage().Pixels8;
            Assert.Equal(mask.Length, written.Length);
            for (int k = 0; k < mask.Length; k++)
                if (mask[k] != written[k])
                    Assert.True(Math.Abs(expected.Probabilities[k] - 0.5f) < 1e-4f,
                        $"{file}, pixel {k}: the folded mask differs away from the threshold");
            compared++;
        }
        Assert.Equal(6, compared);
    }
}
