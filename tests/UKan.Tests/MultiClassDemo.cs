using UKan.Data;

namespace UKan.Tests;

/// <summary>
/// Small multi-class sets made at test time in the label-map layout (images/, labels/ with class indices), at a small
/// size. Nothing of them is committed.
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

    /// <summary>
    /// The embedded Kvasir-SEG images with three mutually exclusive classes: background (0), the polyp from its mask (1),
    /// and a marker (2) painted onto the image: a disc of a saturated blue that no colonoscopy image shows, with
    /// diagonal stripes so that colour is not its only cue, at a random place that keeps at least 2 px clear of the
    /// polyp. The polyp is the hard, real class and the marker the easy one, so that a short CPU run can show both
    /// that softmax training separates classes and that it finds the polyp. Places and sizes come from
    /// <paramref name="seed"/> and the image's position in id order: the set is the same on every machine.
    /// </summary>
    /// <param name="seed">Seeds the markers' places and sizes.</param>
    public static string Create(int size = 64, int seed = 7)
    {
        var source = new SegmentationFolder(Source());
        var root = NewRoot();
        for (int k = 0; k < source.Ids.Count; k++)
        {
            var id = source.Ids[k];
            var image = ImageOps.ResizeLinear(source.LoadImage(id, ChannelOrder.Rgb), size, size);
            var labels = Mask.Binarize(ImageOps.ResizeNearest(source.LoadMask(id).ToBinaryImage(), size, size).Pixels8);   // 0/1
            var pixels = (byte[])image.Pixels8.Clone();
            PaintMarker(pixels, labels, size, new Random(unchecked(seed * 1_000_003 + k) & int.MaxValue));
            Write(root, id, Raster.Create8(size, size, 3, pixels), labels, size);
        }
        return root;
    }

    /// <summary>The marker's colour (RGB) and its stripes' amplitude around it.</summary>
    static readonly byte[] MarkerColour = [30, 80, 230];
    const int StripeAmplitude = 25;

    /// <summary>
    /// Paints the class-2 disc (radius about size/7) where its bounding square keeps at least 2 px from every polyp
    /// pixel, trying random places and shrinking when none fits; an image whose polyp leaves no room gets no marker.
    /// </summary>
    static void PaintMarker(byte[] rgb, byte[] labels, int size, Random rng)
    {
        const int margin = 2;
        for (int radius = Math.Max(3, size / 7 + rng.Next(-1, size / 16 + 1)); radius >= 3; radius--)
            for (int attempt = 0; attempt < 40; attempt++)
            {
                int cx = rng.Next(radius, size - radius), cy = rng.Next(radius, size - radius);
                if (!Clear(labels, size, cx, cy, radius + margin)) continue;
                for (int y = cy - radius; y <= cy + radius; y++)
                    for (int x = cx - radius; x <= cx + radius; x++)
                    {
                        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) > radius * radius) continue;
                        int i = y * size + x;
                        labels[i] = 2;
                        int stripe = (x + y) / 2 % 2 == 0 ? StripeAmplitude : -StripeAmplitude;
                        for (int c = 0; c < 3; c++) rgb[i * 3 + c] = (byte)Math.Clamp(MarkerColour[c] + stripe, 0, 255);
                    }
                return;
            }
    }

    /// <summary>Whether no labelled pixel lies in the square of half-size <paramref name="reach"/> around (cx, cy).</summary>
    static bool Clear(byte[] labels, int size, int cx, int cy, int reach)
    {
        for (int y = Math.Max(0, cy - reach); y <= Math.Min(size - 1, cy + reach); y++)
            for (int x = Math.Max(0, cx - reach); x <= Math.Min(size - 1, cx + reach); x++)
                if (labels[y * size + x] != 0) return false;
        return true;
    }

    /// <summary>
    /// A binary dataset split into background (0), object core (1: the mask eroded <paramref name="rim"/> times) and
    /// object rim (2: the rest of the mask): label maps whose classes touch, for tests of the data path and the CLI.
    /// </summary>
    /// <param name="binarySource">A binary dataset (images/, masks/0/), e.g. <see cref="SyntheticDataset.Create"/>.</param>
    /// <param name="rim">Erosion depth in pixels at <paramref name="size"/>: the rim's width.</param>
    public static string CoreAndRim(string binarySource, int size = 64, int rim = 3)
    {
        var source = new SegmentationFolder(binarySource);
        var root = NewRoot();
        foreach (var id in source.Ids)
        {
            var image = ImageOps.ResizeLinear(source.LoadImage(id, ChannelOrder.Rgb), size, size);
            var mask = Mask.Binarize(ImageOps.ResizeNearest(source.LoadMask(id).ToBinaryImage(), size, size).Pixels8);
            var core = mask;
            for (int r = 0; r < rim; r++) core = Erode(core, size);
            var labels = new byte[size * size];
            for (int i = 0; i < labels.Length; i++) labels[i] = mask[i] == 0 ? (byte)0 : core[i] != 0 ? (byte)1 : (byte)2;
            Write(root, id, image, labels, size);
        }
        return root;
    }

    static string NewRoot()
    {
        var root = Path.Combine(Path.GetTempPath(), $"ukan-multiclass-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "images"));
        Directory.CreateDirectory(Path.Combine(root, "labels"));
        return root;
    }

    static void Write(string root, string id, Raster image, byte[] labels, int size)
    {
        ImageFile.WritePng(Path.Combine(root, "images", id + ".png"), image);
        ImageFile.WritePng(Path.Combine(root, "labels", id + ".png"), Raster.Create8(size, size, 1, labels));
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
