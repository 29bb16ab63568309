namespace UKan.Layers;

/// <summary>
/// One tile of the KAN product kernels (Native/Kernels/kan_product.cu): a block of (Rows / 8) × (Columns / 8) threads
/// computes Rows × Columns outputs, 8 × 8 per thread.
/// </summary>
public readonly record struct KanProductTile(int Rows, int Columns)
{
    /// <summary>Threads per block.</summary>
    public int Threads => Rows / 8 * (Columns / 8);

    public override string ToString() => $"{Rows}x{Columns}";
}
