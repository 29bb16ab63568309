using UKan.Data;
using UKan.Evaluation;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Evaluation;

public class EnsembleTests
{
    [Fact]
    public void An_ensemble_of_copies_scores_as_the_model_and_different_members_are_averaged()
    {
        _ = TestTorch.Runtime;
        var folder = new SegmentationFolder(SyntheticDataset.Create(count: 5, size: 32));
        var dataset = new SegmentationDataset(folder, 32, 32, PreprocessingPreset.Official);
        manual_seed(3);
        var a = ModelFactory.Create(new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" });
        manual_seed(4);
        var b = ModelFactory.Create(new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" });
        var (single, singleMeter, _) = Evaluator.Run(a, dataset, folder.Ids, CPU, 2);
        var (copies, copiesMeter) = Evaluator.RunEnsemble([a, a], dataset, folder.Ids, CPU, 2);
        Assert.Equal(singleMeter.Images.Select(r => r.Counts), copiesMeter.Images.Select(r => r.Counts));
        Assert.Equal(single.Official.Iou, copies.Official.Iou);

        // Two different members: the prediction is mean probability > 0.5, computed here directly.
        var (_, pairMeter) = Evaluator.RunEnsemble([a, b], dataset, folder.Ids, CPU, 2, hd95: false);
        a.eval();
        b.eval();
        int row = 0;
        foreach (var make in dataset.Plain(folder.Ids, 2))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (x, t) = make().ToTensors(CPU);
            var mean = (a.call(x).sigmoid() + b.call(x).sigmoid()) / 2;
            var predicted = mean.gt(0.5).flatten(1).sum(1).data<long>().ToArray();
            foreach (var p in predicted) Assert.Equal(p, pairMeter.Images[row++].PredictedPixels);
        }
        Assert.Equal(folder.Ids.Count, row);
    }
}
