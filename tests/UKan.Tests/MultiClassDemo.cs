using UKan.Data;

namespace UKan.Tests;

/// <summary>
/// A small multi-class set made at test time from a binary dataset (by default the embedded Kvasir-SEG demo images):
/// label maps with background (0), object core (1: the mask eroded) and object rim (2: the rest of the mask), at a
/// small size, in the label-map layout (images/, labels/). Nothing of it is committed.
/// </summary>
public static class MultiClassDemo
{
    /// <summary>data/demo/kvasir-seg-48, searched upwards from the test binaries.</summary>
    public static string Source()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "data", "demo", "kvasir-seg-48");
            if (Directory.Exists(candidate)) return candidate;
        }
        throw new DirectoryNotFoundException("data/demo/kvasir-seg-48 not found above the test binaries");
    }

    /// <param name="rim">Erosion depth in pixels at <paramref name="size"/>: the rim's width.</param>
    /// <param name="binarySource">A binary dataset (images/, masks/0/); null: the Kvasir-SEG demo set.</param>
    public static string Create(string? binarySource = null, int size = 64, int rim = 3)
    {
        var source = new SegmentationFolder(binarySource ?? Source());
        var root = Path.Combine(Path.GetTempPath(), $"ukan-multiclass-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "images"));
        Directory.CreateDirectory(Path.Combine(root, "labels"));
        foreach (var id in source.Ids)
        {
            var image = ImageOps.ResizeLinear(source.LoadImage(id, ChannelOrder.Rgb), size, size);
            var mask = Mask.Binarize(ImageOps.ResizeNearest(source.LoadMask(id).ToBinaryImage(), size, size).Pixels8);
            var core = mask;
            for (int r = 0; r < rim; r++) core = Erode(core, size);
            var labels = new byte[size * size];
            for (int i = 0; i < labels.Length; i++) labels[i] = mask[i] == 0 ? (byte)0 : core[i] != 0 ? (byte)1 : (byte)2;
            ImageFile.WritePng(Path.Combine(root, "images", id + ".png"), image);
            ImageFile.WritePng(Path.Combine(root, "labels", id + ".png"), Raster.Create8(size, size, 1, labels));
        }
        return root;
    }

    /// <summary>4-neighbour erosion; outside the image counts as background.</summary>
    static byte[] Erode(byte[] m, int size)
    {
        var o = new byte[m.Length];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
            {
                int i = y * size + x;
                o[i] = (byte)(m[i] != 0 && x > 0 && y > 0 && x < size - 1 && y < size - 1
                    && m[i - 1] != 0 && m[i + 1] != 0 && m[i - size] != 0 && m[i + size] != 0 ? 1 : 0);
            }
        return o;
    }
}
