using UKan.Evaluation;

namespace UKan.Serve;

/// <summary>The JSON answer of <c>POST /v1/segment</c> (snake_case on the wire).</summary>
/// <param name="Contours">Outlines of the mask on the pixel-corner grid: [[x, y], ...] per polygon (see <see cref="MaskContours"/>).</param>
/// <param name="MaskPng">The mask PNG, base64, when asked for with <c>images=true</c>.</param>
/// <param name="OverlayPng">The overlay PNG, base64, when asked for with <c>images=true</c>.</param>
sealed record SegmentResponse(
    int Width,
    int Height,
    float Threshold,
    long ForegroundPixels,
    double ForegroundFraction,
    ProbabilitySummary Probabilities,
    IReadOnlyList<ContourJson> Contours,
    string Model,
    double ElapsedMs,
    string? MaskPng,
    string? OverlayPng)
{
    public static SegmentResponse From(SegmentationResult r, string model, double elapsedMs, bool images)
    {
        double sum = 0, inMask = 0;
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        var p = r.Probabilities;
        var m = r.Mask;
        for (int i = 0; i < p.Length; i++)
        {
            sum += p[i];
            if (m[i] != 0) inMask += p[i];
            min = Math.Min(min, p[i]);
            max = Math.Max(max, p[i]);
        }
        var contours = MaskContours.Trace(m, r.Width, r.Height)
            .Select(c => new ContourJson(c.Hole, c.Points.Select(q => new[] { q.X, q.Y }).ToArray())).ToList();
        return new SegmentResponse(r.Width, r.Height, r.Threshold, r.ForegroundPixels, r.ForegroundFraction,
            new ProbabilitySummary(min, max, sum / p.Length, r.ForegroundPixels > 0 ? inMask / r.ForegroundPixels : null),
            contours, model, Math.Round(elapsedMs, 2),
            images ? Convert.ToBase64String(r.MaskPng()) : null, images ? Convert.ToBase64String(r.OverlayPng()) : null);
    }
}
