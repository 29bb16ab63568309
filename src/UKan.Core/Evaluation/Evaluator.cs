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
        int scored = output == UKan.Models.SegmentationLoss.CeDice ? dataset.Classes - 1 : 1;
        double lossSum = 0;
        model.eval();
        var meters = Score(dataset, ids, device, batchSize, hd95, scored, (m, x, t, batchIds) =>
        {
            Tensor logits;
            if (loss is null) logits = model.call(x);
            else
            {
                (var l, logits) = UKan.Losses.ModelLoss.Of(model, loss, x, t);
                lossSum += l.item<float>() * batchIds.Count;
            }
            var perClass = ClassMasks.Split(logits, t, output);
            for (int c = 0; c < m.Length; c++) m[c].AddLogits(perClass[c].Logits, perClass[c].Target, batchIds);
        });
        return (meters.Select(m => (m.Summarize(), m)).ToList(), lossSum / Math.Max(1, ids.Count));
    }

    /// <summary>
    /// Scores an ensemble of binary (bce-dice) models as nnU-Net does (Isensee et al., Nature Methods 2021): the
    /// members' probabilities are averaged per pixel, then thresholded at 0.5. One member is exactly
    /// <see cref="Run"/> (logit &gt; 0).
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
        if (dataset.Classes != 1) throw new UserError($"ensembles score binary segmentation; this dataset has {dataset.Classes} classes.");
        foreach (var m in models) m.eval();
        var meter = Score(dataset, ids, device, batchSize, hd95, 1, (m, x, t, batchIds) =>
        {
            var sum = models[0].call(x).sigmoid();
            for (int i = 1; i < models.Count; i++) sum = sum.add_(models[i].call(x).sigmoid());
            m[0].AddProbabilities(sum.div_(models.Count), t, batchIds);
        })[0];
        return (meter.Summarize(), meter);
    }

    /// <summary>
    /// The batches in loader order, each handed to <paramref name="add"/> with one meter per scored class, inside a
    /// dispose scope without gradients.
    /// </summary>
    static SegmentationMeter[] Score(SegmentationDataset dataset, IReadOnlyList<string> ids, Device device, int batchSize, bool hd95,
        int classes, Action<SegmentationMeter[], Tensor, Tensor, IReadOnlyList<string>> add)
    {
        var meters = Enumerable.Range(0, classes).Select(_ => new SegmentationMeter(new SegmentationMeterOptions { ComputeHd95 = hd95 })).ToArray();
        foreach (var batch in Prefetch.Ahead(dataset.Plain(ids, batchSize)))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (x, t) = batch.ToTensors(device);
            add(meters, x, t, batch.Ids);
        }
        return meters;
    }
}
