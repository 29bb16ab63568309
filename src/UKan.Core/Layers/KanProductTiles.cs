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
}
