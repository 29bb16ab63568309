namespace UKan.Layers;

/// <summary>
/// One tile of the KAN product kernels (Native/Kernels/kan_product.cu): a block of threads computes Rows × Columns
/// outputs, 8 × 8 per thread (8 × 4 in the 32-wide tiles).
/// </summary>
public readonly record struct KanProductTile(int Rows, int Columns)
{
    /// <summary>Columns per thread: 8, or 4 in tiles 32 wide.</summary>
    public int ColumnsPerThread => Columns >= 64 ? 8 : 4;

    /// <summary>Threads per block.</summary>
    public int Threads => Rows / 8 * (Columns / ColumnsPerThread);

    public override string ToString() => $"{Rows}x{Columns}";
}
