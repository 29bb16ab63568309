using TorchSharp;
using UKan.Data;
using static TorchSharp.torch;

namespace UKan.Evaluation;

/// <summary>
/// Evaluates a segmentation model on images of a dataset folder at its training size, without augmentation, in
/// batches of <c>batchSize</c> in the given order (the official numbers depend on both; see docs/metrics.md), and
/// scores them both ways through a <see cref="SegmentationMeter"/>.
/// </summary>
public static class Evaluator
{
    public static (SegmentationSummary Summary, SegmentationMeter Meter, double Loss) Run(
        nn.Module<Tensor, Tensor> model, SegmentationDataset dataset, IReadOnlyList<string> ids, Device device,
        int batchSize = 8, bool hd95 = true, nn.Module<Tensor, Tensor, Tensor>? loss = null)
    {
        var (classes, mean) = RunClasses(model, dataset, ids, device, UKan.Models.SegmentationLoss.BceDice, batchSize, hd95, loss);
        return (classes[0].Summary, classes[0].Meter, mean);
    }

    /// <summary>
    /// Scores every scored class (<see cref="ClassMasks"/>) as its own binary problem: per class a summary and a meter,
    /// class 1 first for softmax outputs. Sigmoid (bce-dice) outputs are scored for one class only.
    /// </summary>
    public static (IReadOnlyList<(SegmentationSummary Summary, SegmentationMeter Meter)> Classes, double Loss) RunClasses(
        nn.Module<Tensor, Tensor> model, SegmentationDataset dataset, IReadOnlyList<string> ids, Device device,
        UKan.Models.SegmentationLoss output, int batchSize = 8, bool hd95 = true, nn.Module<Tensor, Tensor, Tensor>? loss = null)
    {
        if (output == UKan.Models.SegmentationLoss.BceDice && dataset.Classes != 1)
            throw new UserError($"evaluation scores binary segmentation; this dataset has {dataset.Classes} classes.");
        model.eval();
        int scored = output == UKan.Models.SegmentationLoss.CeDice ? dataset.Classes - 1 : 1;
        var meters = Enumerable.Range(0, scored).Select(_ => new SegmentationMeter(new SegmentationMeterOptions { ComputeHd95 = hd95 })).ToArray();
        double lossSum = 0;
        foreach (var batch in Prefetch.Ahead(dataset.Plain(ids, batchSize)))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (x, t) = batch.ToTensors(device);
            var logits = model.call(x);
            if (loss is not null) lossSum += loss.call(logits, t).item<float>() * batch.Count;
            var perClass = ClassMasks.Split(logits, t, output);
            for (int c = 0; c < scored; c++) meters[c].AddLogits(perClass[c].Logits, perClass[c].Target, batch.Ids);
        }
        return (meters.Select(m => (m.Summarize(), m)).ToList(), lossSum / Math.Max(1, ids.Count));
    }
}
