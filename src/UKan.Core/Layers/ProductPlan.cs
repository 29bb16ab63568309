namespace UKan.Layers;

/// <summary>
/// How <see cref="SplitReduction"/> runs one product: on cuBLAS (<see cref="Tile"/> null) or on our kernels in
/// <see cref="Tile"/>, its reduction split in <see cref="Splits"/> slices (1: not split).
/// </summary>
public readonly record struct ProductPlan(KanProductTile? Tile, int Splits)
{
    /// <summary>cuBLAS, one product: where no other plan applies.</summary>
    public static readonly ProductPlan Single = new(null, 1);

    public override string ToString() => Tile is { } t ? $"ours {t} in {Splits}" : $"cuBLAS in {Splits}";
}
