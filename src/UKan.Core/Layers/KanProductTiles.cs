namespace UKan.Layers;

/// <summary>The tiles the KAN product kernels are compiled for (one entry per tile and layout in kan_product.cu and kan_product_tf32x3.cu).</summary>
public static class KanProductTiles
{
    /// <summary>
    /// The CUDA-core kernels: 128 × 128 (256 threads) for products with many output tiles; the smaller ones give the
    /// thin products more blocks (with more slices of the reduction, which <see cref="SplitReduction"/> also tries), the
    /// 32-wide ones fit the 160-channel layers (160 = 5 × 32) without computing past the edge.
    /// </summary>
    public static readonly KanProductTile[] All = [new(128, 128), new(128, 64), new(64, 128), new(64, 64), new(128, 32), new(64, 32)];

    /// <summary>The same tiles on the tensor cores at float32 accuracy (3xTF32).</summary>
    public static readonly KanProductTile[] Tf32x3 = [.. All.Select(t => t with { Tf32x3 = true })];

    /// <summary>
    /// The tensor-core tiles among the default plans of the large products (<see cref="SplitReduction.Tf32x3MinMacs"/>):
    /// those of 64 and 128 rows and columns, the ones an H200 chose there (docs/results.md §2u); the 32-wide ones join
    /// with UKAN_KAN_PRODUCT_KERNELS=on.
    /// </summary>
    public static readonly KanProductTile[] Tf32x3Default = [.. Tf32x3.Where(t => t.Columns >= 64)];
}
