namespace UKan.Layers;

/// <summary>Which gradients of a <see cref="KanWeightParts"/> a backward computes.</summary>
public readonly record struct KanWeightNeeds(bool Base, bool Spline, bool Scaler)
{
    public static readonly KanWeightNeeds All = new(true, true, true);
}
