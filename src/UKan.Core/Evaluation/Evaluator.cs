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
        if (dataset.Classes != 1) throw new UserError($"evaluation scores binary segmentation; this dataset has {dataset.Classes} classes.");
        model.eval();
        var meter = new SegmentationMeter(new SegmentationMeterOptions { ComputeHd95 = hd95 });
        double lossSum = 0;
        foreach (var batch in Prefetch.Ahead(dataset.Plain(ids, batchSize)))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (x, t) = batch.ToTensors(device);
            var logits = model.call(x);
            if (loss is not null) lossSum += loss.call(logits, t).item<float>() * batch.Count;
            meter.AddLogits(logits, t, batch.Ids);
        }
        return (meter.Summarize(), meter, lossSum / Math.Max(1, ids.Count));
    }
}
