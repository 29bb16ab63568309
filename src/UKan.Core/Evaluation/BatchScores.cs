using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Evaluation;

/// <summary>Pixel counts of one image (or one pooled batch): true/false positives and negatives.</summary>
public readonly record struct Confusion(long TP, long FP, long FN, long TN)
{
    public static Confusion operator +(Confusion a, Confusion b) => new(a.TP + b.TP, a.FP + b.FP, a.FN + b.FN, a.TN + b.TN);
}

/// <summary>
/// Per-image confusion counts of a batch computed on the device: prediction = logit &gt; 0 (σ &gt; 0.5, the reference's
/// threshold), target = value &gt; 0.5; one row per image, classes pooled per image. Only four numbers per image leave
/// the GPU.
/// </summary>
public static class BatchScores
{
    public static Confusion[] PerImage(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        long n = logits.shape[0];
        var p = (logits > 0).reshape(n, -1);
        var t = (targets > 0.5).reshape(n, -1);
        var tp = (p & t).sum(1);
        var fp = (p & ~t).sum(1);
        var fn = (~p & t).sum(1);
        var tn = (~p & ~t).sum(1);
        var all = stack([tp, fp, fn, tn], 1).cpu();
        var data = all.data<long>().ToArray();
        return Enumerable.Range(0, (int)n).Select(i => new Confusion(data[4 * i], data[4 * i + 1], data[4 * i + 2], data[4 * i + 3])).ToArray();
    }
}
