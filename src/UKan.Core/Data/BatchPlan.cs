namespace UKan.Data;

/// <summary>The samples of one training batch and the augmentation each receives.</summary>
public sealed record BatchPlan(string[] Ids, AugmentChoice[] Choices)
{
    public int Count => Ids.Length;
}
