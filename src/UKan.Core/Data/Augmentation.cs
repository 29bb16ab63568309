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

    /// <summary>
    /// Bilinear resize with OpenCV's INTER_LINEAR geometry: source coordinate (x + 0.5)·from/to − 0.5, clamped to the
    /// image (edge pixels repeat), results rounded to the nearest integer. OpenCV computes 8-bit resizes in 11-bit
    /// fixed point (and, in builds with IPP, through IPP), so individual values can differ from cv2 by one grey level.
    /// </summary>
    public static Raster ResizeLinear(Raster src, int width, int height)
    {
        if (width == src.Width && height == src.Height) return src;
        int c = src.Channels;
        var (x0, x1, fx) = Taps(src.Width, width);
        var (y0, y1, fy) = Taps(src.Height, height);
        var s = src.Pixels8;
        var d = new byte[width * height * c];
        var row0 = new float[width * c];
        var row1 = new float[width * c];
        for (int y = 0; y < height; y++)
        {
            HorizontalPass(s, src.Width, c, y0[y], x0, x1, fx, row0);
            HorizontalPass(s, src.Width, c, y1[y], x0, x1, fx, row1);
            float wy = fy[y];
            int o = y * width * c;
            for (int i = 0; i < width * c; i++)
                d[o + i] = (byte)Math.Clamp(MathF.Round(row0[i] + (row1[i] - row0[i]) * wy, MidpointRounding.AwayFromZero), 0, 255);
        }
        return Raster.Create8(width, height, c, d);
    }

    static void HorizontalPass(byte[] s, int srcWidth, int c, int sy, int[] x0, int[] x1, float[] fx, float[] row)
    {
        int b = sy * srcWidth * c;
        for (int x = 0; x < x0.Length; x++)
        {
            int a0 = b + x0[x] * c, a1 = b + x1[x] * c;
            float w = fx[x];
            for (int k = 0; k < c; k++) row[x * c + k] = s[a0 + k] + (s[a1 + k] - s[a0 + k]) * w;
        }
    }

    /// <summary>
    /// For each output index of a bilinear resize from <paramref name="from"/> to <paramref name="to"/> samples: the two
    /// source indices and the weight of the second (shared with the device path, <see cref="DeviceDataset"/>).
    /// </summary>
    public static (int[] I0, int[] I1, float[] W) Taps(int from, int to)
    {
        var i0 = new int[to];
        var i1 = new int[to];
        var w = new float[to];
        double scale = (double)from / to;
        for (int o = 0; o < to; o++)
        {
            double f = (o + 0.5) * scale - 0.5;
            int lo = (int)Math.Floor(f);
            double t = f - lo;
            if (lo < 0) { lo = 0; t = 0; }
            if (lo >= from - 1) { lo = from - 1; t = 0; }
            i0[o] = lo;
            i1[o] = Math.Min(lo + 1, from - 1);
            w[o] = (float)t;
        }
        return (i0, i1, w);
    }
}
