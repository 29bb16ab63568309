using TorchSharp;
using UKan.Data;
using static TorchSharp.torch;

namespace UKan.Evaluation;

/// <summary>One image's scores (per-image way).</summary>
public sealed record ImageScores(string Id, double Iou, double Dice, double Precision, double Recall, double Specificity, double Hd95, long ForegroundPixels, long PredictedPixels);

/// <summary>Scores of a model on a set of images, computed the two named ways.</summary>
public sealed record EvaluationReport(
    int Images, int BatchSize,
    IReadOnlyDictionary<string, double> Official,
    IReadOnlyDictionary<string, double> PerImage,
    IReadOnlyList<ImageScores> Rows)
{
    /// <summary>Writes the per-image rows as CSV.</summary>
    public void WriteCsv(string path)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var lines = new List<string> { "id,iou,dice,precision,recall,specificity,hd95,foreground_pixels,predicted_pixels" };
        lines.AddRange(Rows.Select(r => string.Join(',', Csv(r.Id), r.Iou.ToString("G9", inv), r.Dice.ToString("G9", inv), r.Precision.ToString("G9", inv),
            r.Recall.ToString("G9", inv), r.Specificity.ToString("G9", inv), r.Hd95.ToString("G9", inv), r.ForegroundPixels, r.PredictedPixels)));
        AtomicFile.WriteAllText(path, string.Join('\n', lines) + "\n");
    }

    static string Csv(string s) => s.Contains(',') || s.Contains('"') ? $"\"{s.Replace("\"", "\"\"")}\"" : s;
}

/// <summary>
/// Evaluates a segmentation model on images of a dataset folder at its training size, without augmentation.
/// <list type="bullet">
/// <item><b>official</b>: the reference's val.py/metrics.py: images in the given order, batches of 8; per batch all
/// pixels pooled, IoU = (|P∧T| + 1e-5)/(|P∨T| + 1e-5), Dice = 2·IoU/(1 + IoU); batch values averaged with
/// batch-size weights; HD95 = medpy's hd95 on the whole (B, C, H, W) batch as one volume (the length-1 channel axis
/// makes every foreground pixel "surface" and the batch axis a spatial one), 0 when a batch's prediction or ground
/// truth is empty (the reference catches the error and uses 0). Depends on batch size and order, which is why it is
/// reported only for comparison.</item>
/// <item><b>per-image</b>: each metric per image, then the mean. Empty-mask rule: ground truth and prediction both
/// empty → IoU = Dice = precision = recall = 1 and HD95 = 0; one empty, the other not → 0 and HD95 = the image
/// diagonal (the largest possible distance), counted in "one_empty" (specificity of an all-foreground image is 1).
/// HD95 per image is on 2-D contours (foreground minus its 4-connected erosion), in pixels at the evaluation size.</item>
/// </list>
/// </summary>
public static class Evaluator
{
    public static EvaluationReport Run(nn.Module<Tensor, Tensor> model, SegmentationDataset dataset, IReadOnlyList<string> ids, Device device, int batchSize = 8)
    {
        model.eval();
        var rows = new List<ImageScores>();
        var official = new Dictionary<string, double> { ["iou"] = 0, ["dice"] = 0, ["precision"] = 0, ["recall"] = 0, ["specificity"] = 0, ["hd95"] = 0 };
        int oneEmpty = 0;
        foreach (var batch in Prefetch.Ahead(dataset.Plain(ids, batchSize)))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (x, t) = batch.ToTensors(device);
            var logits = model.call(x);
            var counts = BatchScores.PerImage(logits, t);
            var pred = (logits > 0).cpu().data<bool>().ToArray();
            var gt = (t > 0.5).cpu().data<bool>().ToArray();
            int[] volume = [batch.Count, batch.Classes, batch.Height, batch.Width];
            official["hd95"] += (SurfaceDistance.Hd95(pred, gt, volume) ?? 0) * batch.Count;
            var pooled = counts.Aggregate((a, c) => a + c);
            double iou = (pooled.TP + 1e-5) / (pooled.TP + pooled.FP + pooled.FN + 1e-5);
            official["iou"] += iou * batch.Count;
            official["dice"] += 2 * iou / (1 + iou) * batch.Count;
            official["precision"] += (pooled.TP + 1e-5) / (pooled.TP + pooled.FP + 1e-5) * batch.Count;
            official["recall"] += (pooled.TP + 1e-5) / (pooled.TP + pooled.FN + 1e-5) * batch.Count;
            official["specificity"] += (pooled.TN + 1e-5) / (pooled.TN + pooled.FP + 1e-5) * batch.Count;
            int plane = batch.Height * batch.Width, imageSize = batch.Classes * plane;
            for (int i = 0; i < counts.Length; i++)
            {
                // Per-image HD95 on the first (binary: only) class.
                var p = pred.AsSpan(i * imageSize, plane);
                var g = gt.AsSpan(i * imageSize, plane);
                var hd = SurfaceDistance.Hd95(p, g, [batch.Height, batch.Width]);
                bool pe = !p.Contains(true), ge = !g.Contains(true);
                if (pe != ge) oneEmpty++;
                double hd95 = hd ?? (pe && ge ? 0 : Math.Sqrt((double)batch.Height * batch.Height + (double)batch.Width * batch.Width));
                rows.Add(Score(batch.Ids[i], counts[i]) with { Hd95 = hd95 });
            }
        }
        int n = rows.Count;
        foreach (var k in official.Keys.ToList()) official[k] /= n;
        var perImage = new Dictionary<string, double>
        {
            ["iou"] = rows.Average(r => r.Iou), ["dice"] = rows.Average(r => r.Dice), ["precision"] = rows.Average(r => r.Precision),
            ["recall"] = rows.Average(r => r.Recall), ["specificity"] = rows.Average(r => r.Specificity),
            ["hd95"] = rows.Average(r => r.Hd95), ["hd95_median"] = Median(rows.Select(r => r.Hd95)),
            ["iou_std"] = Std(rows.Select(r => r.Iou)), ["dice_std"] = Std(rows.Select(r => r.Dice)), ["one_empty"] = oneEmpty,
        };
        return new EvaluationReport(n, batchSize, official, perImage, rows);
    }

    /// <summary>Per-image scores with the empty-mask rule (see the class summary).</summary>
    public static ImageScores Score(string id, Confusion c)
    {
        // A ratio with nothing to count (0/0) is 1 when prediction and ground truth are both empty, else 0.
        bool bothEmpty = c.TP + c.FP + c.FN == 0;
        double Ratio(long num, long den) => den == 0 ? (bothEmpty ? 1.0 : 0.0) : (double)num / den;
        return new ImageScores(id, Ratio(c.TP, c.TP + c.FP + c.FN), Ratio(2 * c.TP, 2 * c.TP + c.FP + c.FN),
            Ratio(c.TP, c.TP + c.FP), Ratio(c.TP, c.TP + c.FN), c.TN + c.FP == 0 ? 1.0 : (double)c.TN / (c.TN + c.FP),
            double.NaN, c.TP + c.FN, c.TP + c.FP);
    }

    static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    static double Std(IEnumerable<double> values)
    {
        var v = values.ToArray();
        if (v.Length < 2) return 0;
        var m = v.Average();
        return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1));
    }
}
