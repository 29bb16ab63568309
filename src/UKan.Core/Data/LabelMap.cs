namespace UKan.Data;

/// <summary>
/// Label maps: one 8-bit value per pixel, the index of its class (0 = background), for mutually exclusive classes.
/// Resized with nearest neighbour only (<see cref="Preprocessing.Geometry"/> does so for every mask): the reference
/// resizes binary masks bilinearly and thresholds them, which for indices would invent classes at borders (between
/// 0 and 2 lies 1).
/// </summary>
public static class LabelMap
{
    /// <summary>The largest index in a map (0 for an empty one).</summary>
    public static int Max(ReadOnlySpan<byte> labels)
    {
        int max = 0;
        foreach (var v in labels) if (v > max) max = v;
        return max;
    }

    /// <summary>
    /// Writes the (classes, H, W) one-hot targets of a map: channel c is 1 where the label is c. A label ≥ classes
    /// (refused when the map is loaded) would leave its pixel all 0.
    /// </summary>
    public static void ToOneHot(ReadOnlySpan<byte> labels, int classes, Span<float> destination)
    {
        int hw = labels.Length;
        if (destination.Length != classes * hw) throw new ArgumentException($"one-hot targets need {classes * hw} values, got {destination.Length}");
        destination.Clear();
        for (int i = 0; i < hw; i++)
            if (labels[i] < classes) destination[labels[i] * hw + i] = 1f;
    }

    /// <summary>
    /// A fixed palette (RGB per class; class 0 black): the colours of PASCAL VOC's label maps (bit-interleaved index
    /// → colour), so that maps written by ukan look as other tools draw them. 256 entries.
    /// </summary>
    public static byte[] Palette { get; } = MakePalette();

    static byte[] MakePalette()
    {
        var p = new byte[256 * 3];
        for (int c = 0; c < 256; c++)
        {
            int r = 0, g = 0, b = 0, v = c;
            for (int bit = 7; bit >= 0; bit--, v >>= 3)
            {
                r |= (v & 1) << bit;
                g |= ((v >> 1) & 1) << bit;
                b |= ((v >> 2) & 1) << bit;
            }
            (p[3 * c], p[3 * c + 1], p[3 * c + 2]) = ((byte)r, (byte)g, (byte)b);
        }
        return p;
    }

    /// <summary>The map in colour (RGB, <see cref="Palette"/>).</summary>
    public static Raster Colour(byte[] labels, int width, int height)
    {
        var o = new byte[labels.Length * 3];
        for (int i = 0; i < labels.Length; i++)
            for (int k = 0; k < 3; k++) o[3 * i + k] = Palette[3 * labels[i] + k];
        return Raster.Create8(width, height, 3, o);
    }
}
