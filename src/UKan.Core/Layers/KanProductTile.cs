namespace UKan.Layers;

/// <summary>
/// One tile of the KAN product kernels: a block of threads computes Rows × Columns outputs. On the CUDA cores
/// (Native/Kernels/kan_product.cu) each thread 8 × 8 of them (8 × 4 in the 32-wide tiles); with <see cref="Tf32x3"/>
/// on the tensor cores at float32 accuracy (Native/Kernels/kan_product_tf32x3.cu), each warp 64 × 32 or 32 × 32.
/// </summary>
public readonly record struct KanProductTile(int Rows, int Columns, bool Tf32x3 = false)
{
    /// <summary>Columns per thread of the CUDA-core kernels: 8, or 4 in tiles 32 wide.</summary>
    public int ColumnsPerThread => Columns >= 64 ? 8 : 4;

    /// <summary>Rows per warp of the tensor-core kernels: 64 where the tile has at least 8,192 outputs, else 32 (each warp 32 columns).</summary>
    public int WarpRows => Rows * Columns >= 8192 ? 64 : 32;

    /// <summary>Threads per block.</summary>
    public int Threads => Tf32x3 ? Rows / WarpRows * (Columns / 32) * 32 : Rows / 8 * (Columns / ColumnsPerThread);

    /// <summary>The reduction's step: each slice of a split product is a multiple of it.</summary>
    public int Step => Tf32x3 ? UKan.Native.KanProductKernels.Tf32x3Depth : 8;

    public override string ToString() => Tf32x3 ? $"{Rows}x{Columns} 3xTF32" : $"{Rows}x{Columns}";
}
