namespace UKan.Serve;

/// <summary>The foreground probabilities of one image in a few numbers.</summary>
/// <param name="MeanInMask">Mean probability over the mask's pixels; null for an empty mask.</param>
sealed record ProbabilitySummary(float Min, float Max, double Mean, double? MeanInMask);
