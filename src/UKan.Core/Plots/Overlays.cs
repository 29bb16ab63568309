using UKan.Data;

namespace UKan.Plots;

/// <summary>
/// Segmentations drawn over their images: the prediction as a red tint, the ground-truth outline in green. One tile
/// per sample, tiles in a grid.
/// </summary>
public static class Overlays
{
    /// <summary>One tile: <paramref name="image"/> RGB 8-bit; masks 0/1 of the same size (ground truth may be null).</summary>
    public static Raster Tile(Raster image, byte[] prediction, byte[]? groundTruth)
    {
        int w = image.Width, h = image.Height;
        var rgb = ImageOps.ToColor8(image, ChannelOrder.Rgb).Pixels8;
        var o = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++)
        {
            float r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
            if (prediction[i] != 0) { r = 0.55f * r + 0.45f * 255; g *= 0.55f; b *= 0.55f; }
            o[3 * i] = (byte)r; o[3 * i + 1] = (byte)g; o[3 * i + 2] = (byte)b;
        }
        if (groundTruth is not null)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    if (groundTruth[i] == 0) continue;
                    bool edge = x == 0 || y == 0 || x == w - 1 || y == h - 1
                        || groundTruth[i - 1] == 0 || groundTruth[i + 1] == 0 || groundTruth[i - w] == 0 || groundTruth[i + w] == 0;
                    if (edge) { o[3 * i] = 40; o[3 * i + 1] = 230; o[3 * i + 2] = 40; }
                }
        return Raster.Create8(w, h, 3, o);
    }

    /// <summary>
    /// One tile of a multi-class (label map) result: each predicted class c ≥ 1 tinted in its colour of the fixed
    /// palette (<see cref="LabelMap.Palette"/>), the ground-truth class borders in white (ground truth may be null).
    /// </summary>
    public static Raster LabelTile(Raster image, byte[] prediction, byte[]? groundTruth)
    {
        int w = image.Width, h = image.Height;
        var rgb = ImageOps.ToColor8(image, ChannelOrder.Rgb).Pixels8;
        var o = new byte[w * h * 3];
        var palette = LabelMap.Palette;
        for (int i = 0; i < w * h; i++)
            for (int k = 0; k < 3; k++)
                o[3 * i + k] = prediction[i] == 0 ? rgb[3 * i + k] : (byte)(0.5f * rgb[3 * i + k] + 0.5f * palette[3 * prediction[i] + k]);
        if (groundTruth is not null)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int i = y * w + x;
                    byte g = groundTruth[i];
                    bool border = (x > 0 && groundTruth[i - 1] != g) || (y > 0 && groundTruth[i - w] != g);
                    if (border) { o[3 * i] = 255; o[3 * i + 1] = 255; o[3 * i + 2] = 255; }
                }
        return Raster.Create8(w, h, 3, o);
    }

    /// <summary>Tiles of equal size in a grid with a 4-pixel gap.</summary>
    public static Raster Grid(IReadOnlyList<Raster> tiles, int columns = 4)
    {
        if (tiles.Count == 0) throw new ArgumentException("no tiles");
        int tw = tiles[0].Width, th = tiles[0].Height, gap = 4;
        columns = Math.Min(columns, tiles.Count);
        int rows = (tiles.Count + columns - 1) / columns;
        int W = columns * tw + (columns - 1) * gap, H = rows * th + (rows - 1) * gap;
        var o = new byte[W * H * 3];
        Array.Fill(o, (byte)255);
        for (int k = 0; k < tiles.Count; k++)
        {
            int ox = (k % columns) * (tw + gap), oy = (k / columns) * (th + gap);
            var t = tiles[k].Pixels8;
            for (int y = 0; y < th; y++) Array.Copy(t, y * tw * 3, o, ((oy + y) * W + ox) * 3, tw * 3);
        }
        return Raster.Create8(W, H, 3, o);
    }
}
