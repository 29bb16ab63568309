using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Evaluation;

/// <summary>
/// Thin TorchSharp helpers: tensors → flat binary masks for the torch-free metrics. Accepted shapes: (B,1,H,W)
/// (what Seg U-KAN outputs and the loader yields) or (B,H,W).
/// </summary>
public static class TensorMasks
{
    /// <summary>
    /// Prediction = logit &gt; 0, i.e. sigmoid(logit) &gt; 0.5 as upstream thresholds it. (In float32, sigmoid rounds to
    /// exactly 0.5 for 0 &lt; logit ≲ 6e-8, where upstream says background and this says foreground; no trained
    /// model puts pixels there in practice.)
    /// </summary>
    public static bool[] FromLogits(Tensor logits, out BatchShape shape) => Threshold(logits, 0.0, out shape);

    /// <summary>Target = value &gt; 0.5, as upstream binarizes masks (fractional grey values from resizing included).</summary>
    public static bool[] FromTarget(Tensor target, out BatchShape shape) => Threshold(target, 0.5, out shape);

    public static BatchShape ShapeOf(Tensor t) => t.shape switch
    {
        [var b, 1, var h, var w] => new BatchShape(checked((int)b), checked((int)h), checked((int)w)),
        [var b, var h, var w] => new BatchShape(checked((int)b), checked((int)h), checked((int)w)),
        _ => throw new ArgumentException($"masks must be (B,1,H,W) or (B,H,W), got ({string.Join(",", t.shape)})"),
    };

    static bool[] Threshold(Tensor t, double threshold, out BatchShape shape)
    {
        shape = ShapeOf(t);
        using var scope = NewDisposeScope();
        return t.detach().gt(threshold).cpu().contiguous().data<bool>().ToArray();
    }

    /// <summary>
    /// Per-image confusion counts (TP, FP, FN, TN) as a (B, 4) int64 tensor on the logits' device, with the
    /// thresholds of <see cref="FromLogits"/> and <see cref="FromTarget"/>; nothing is copied to the host.
    /// </summary>
    public static Tensor CountsPerImage(Tensor logits, Tensor target)
    {
        var shape = ShapeOf(logits);
        if (ShapeOf(target) != shape) throw new ArgumentException($"logits {shape} and target {ShapeOf(target)} differ in shape");
        using var scope = NewDisposeScope();
        var p = logits.detach().gt(0.0).flatten(1);
        var t = target.detach().gt(0.5).flatten(1);
        var tp = (p & t).sum(1, type: ScalarType.Int64);
        var predicted = p.sum(1, type: ScalarType.Int64);
        var actual = t.sum(1, type: ScalarType.Int64);
        var fp = predicted - tp;
        var fn = actual - tp;
        var tn = -(predicted + fn) + shape.ImagePixels;
        return stack([tp, fp, fn, tn], 1).MoveToOuterDisposeScope();
    }

    /// <summary>Prediction = probability &gt; 0.5 (for averaged probabilities of an ensemble).</summary>
    public static bool[] FromProbabilities(Tensor probabilities, out BatchShape shape) => Threshold(probabilities, 0.5, out shape);

    /// <summary>Adds a batch of logits (B,1,H,W) and targets to <paramref name="meter"/> (see <see cref="FromLogits"/>, <see cref="FromTarget"/>).</summary>
    public static void AddLogits(this SegmentationMeter meter, Tensor logits, Tensor target, IReadOnlyList<string>? ids = null) =>
        meter.AddThresholded(FromLogits(logits, out var shape), shape, target, ids);

    /// <summary>Adds a batch of probabilities (B,1,H,W) and targets to <paramref name="meter"/> (see <see cref="FromProbabilities"/>).</summary>
    public static void AddProbabilities(this SegmentationMeter meter, Tensor probabilities, Tensor target, IReadOnlyList<string>? ids = null) =>
        meter.AddThresholded(FromProbabilities(probabilities, out var shape), shape, target, ids);

    static void AddThresholded(this SegmentationMeter meter, bool[] prediction, BatchShape shape, Tensor target, IReadOnlyList<string>? ids)
    {
        var t = FromTarget(target, out var ts);
        if (shape != ts) throw new ArgumentException($"prediction {shape} and target {ts} differ in shape");
        meter.Add(prediction, t, shape, ids);
    }
}
