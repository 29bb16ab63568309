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

    /// <summary>Adds a batch of logits (B,1,H,W) and targets to <paramref name="meter"/> (see <see cref="FromLogits"/>, <see cref="FromTarget"/>).</summary>
    public static void AddLogits(this SegmentationMeter meter, Tensor logits, Tensor target, IReadOnlyList<string>? ids = null)
    {
        var p = FromLogits(logits, out var ps);
        var t = FromTarget(target, out var ts);
        if (ps != ts) throw new ArgumentException($"logits {ps} and target {ts} differ in shape");
        meter.Add(p, t, ps, ids);
    }
}
