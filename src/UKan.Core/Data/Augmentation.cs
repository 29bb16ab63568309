namespace UKan.Data;

/// <summary>
/// Geometric transforms of U-KAN's training pipeline (albumentations 1.x semantics, as Seg_UKAN/train.py uses them)
/// on 8-bit rasters of any channel count. Image and mask always receive the same transform.
/// </summary>
public static class Augmentation
{
    /// <summary>np.rot90(img, k): k quarter turns counter-clockwise (RandomRotate90 draws k from {0, 1, 2, 3}).</summary>
    public static Raster Rot90(Raster src, int k)
    {
        k = ((k % 4) + 4) % 4;
        if (k == 0) return src;
        int w = src.Width, h = src.Height, c = src.Channels;
        int ow = k == 2 ? w : h, oh = k == 2 ? h : w;
        var s = src.Pixels8;
        var d = new byte[s.Length];
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                // Output (x, y) reads the input pixel that a counter-clockwise rotation brings there.
                var (sx, sy) = k switch
                {
                    1 => (w - 1 - y, x),
                    2 => (w - 1 - x, h - 1 - y),
                    _ => (y, h - 1 - x),
                };
                Array.Copy(s, (sy * w + sx) * c, d, (y * ow + x) * c, c);
            }
        return Raster.Create8(ow, oh, c, d);
    }

    /// <summary>cv2.flip codes as albumentations' Flip draws them: 0 vertical (rows reversed), 1 horizontal, −1 both.</summary>
    public static Raster Flip(Raster src, int code)
    {
        int w = src.Width, h = src.Height, c = src.Channels;
        bool flipRows = code <= 0, flipCols = code != 0;
        var s = src.Pixels8;
        var d = new byte[s.Length];
        for (int y = 0; y < h; y++)
        {
            int sy = flipRows ? h - 1 - y : y;
            for (int x = 0; x < w; x++)
            {
                int sx = flipCols ? w - 1 - x : x;
                Array.Copy(s, (sy * w + sx) * c, d, (y * w + x) * c, c);
            }
        }
        return Raster.Create8(w, h, c, d);
    }
}
