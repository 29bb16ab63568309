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
        double lossSum = 0;
        model.eval();
        var meter = Score(dataset, ids, device, batchSize, hd95, (m, x, t, batchIds) =>
        {
            var logits = model.call(x);
            if (loss is not null) lossSum += loss.call(logits, t).item<float>() * batchIds.Count;
            m.AddLogits(logits, t, batchIds);
        });
        return (meter.Summarize(), meter, lossSum / Math.Max(1, ids.Count));
    }

    /// <summary>
    /// Scores an ensemble as nnU-Net does (Isensee et al., Nature Methods 2021): the members' probabilities are
    /// averaged per pixel, then thresholded at 0.5. One member is exactly <see cref="Run"/> (logit &gt; 0).
    /// </summary>
    public static (SegmentationSummary Summary, SegmentationMeter Meter) RunEnsemble(
        IReadOnlyList<nn.Module<Tensor, Tensor>> models, SegmentationDataset dataset, IReadOnlyList<string> ids, Device device,
        int batchSize = 8, bool hd95 = true)
    {
        if (models.Count == 0) throw new ArgumentException("an ensemble needs at least one model");
        if (models.Count == 1)
        {
            var (summary, single, _) = Run(models[0], dataset, ids, device, batchSize, hd95);
            return (summary, single);
        }
        foreach (var m in models) m.eval();
        var meter = Score(dataset, ids, device, batchSize, hd95, (m, x, t, batchIds) =>
        {
            var sum = models[0].call(x).sigmoid();
            for (int i = 1; i < models.Count; i++) sum = sum.add_(models[i].call(x).sigmoid());
            m.AddProbabilities(sum.div_(models.Count), t, batchIds);
        });
        return (meter.Summarize(), meter);
    }

    /// <summary>The batches in loader order, each handed to <paramref name="add"/> inside a dispose scope without gradients.</summary>
    static SegmentationMeter Score(SegmentationDataset dataset, IReadOnlyList<string> ids, Device device, int batchSize, bool hd95,
        Action<SegmentationMeter, Tensor, Tensor, IReadOnlyList<string>> add)
    {
        if (dataset.Classes != 1) throw new UserError($"evaluation scores binary segmentation; this dataset has {dataset.Classes} classes.");
        var meter = new SegmentationMeter(new SegmentationMeterOptions { ComputeHd95 = hd95 });
        foreach (var batch in Prefetch.Ahead(dataset.Plain(ids, batchSize)))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (x, t) = batch.ToTensors(device);
            add(meter, x, t, batch.Ids);
        }
        return meter;
    }
}
