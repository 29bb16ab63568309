namespace UKan.Data;

/// <summary>Small pure conversions between <see cref="Raster"/> forms, and the resizes the data tools need.</summary>
public static class ImageOps
{
    /// <summary>
    /// 16-bit to 8-bit by round(v / 257), which maps 0..65535 exactly onto 0..255. OpenCV's and libpng's
    /// "strip 16" keep the high byte (v >> 8) instead; the two differ by at most one level.
    /// </summary>
    public static byte To8(ushort v) => (byte)((v + 128) / 257);

    /// <summary>The same image with 8-bit samples (a copy only when it was 16-bit).</summary>
    public static Raster To8Bit(Raster image)
    {
        if (!image.Is16Bit) return image;
        var src = image.Pixels16;
        var dst = new byte[src.Length];
        for (int i = 0; i < src.Length; i++) dst[i] = To8(src[i]);
        return Raster.Create8(image.Width, image.Height, image.Channels, dst);
    }

    /// <summary>
    /// One 8-bit grey channel. Colour uses OpenCV's BT.601 fixed-point weights (0.299 R + 0.587 G + 0.114 B,
    /// 14-bit, rounded), the conversion <c>cv2.imread(..., IMREAD_GRAYSCALE)</c> applies to colour masks;
    /// R = G = B gives that value back exactly. Alpha is dropped.
    /// </summary>
    public static Raster ToGray8(Raster image)
    {
        var img = To8Bit(image);
        if (img.Channels == 1) return img;
        var src = img.Pixels8;
        int ch = img.Channels;
        var dst = new byte[img.PixelCount];
        for (int i = 0, s = 0; i < dst.Length; i++, s += ch)
            dst[i] = (byte)((src[s] * 4899 + src[s + 1] * 9617 + src[s + 2] * 1868 + (1 << 13)) >> 14);
        return Raster.Create8(img.Width, img.Height, 1, dst);
    }

    /// <summary>
    /// Three 8-bit colour channels in the requested order: grey is replicated, alpha dropped, 16-bit scaled
    /// by <see cref="To8"/> — what <c>cv2.imread(path)</c> (IMREAD_COLOR) gives, in BGR or RGB order.
    /// </summary>
    public static Raster ToColor8(Raster image, ChannelOrder order = ChannelOrder.Rgb)
    {
        var img = To8Bit(image);
        if (img.Channels == 3 && order == ChannelOrder.Rgb) return img;
        var src = img.Pixels8;
        int ch = img.Channels;
        var dst = new byte[img.PixelCount * 3];
        bool bgr = order == ChannelOrder.Bgr;
        for (int i = 0, s = 0, d = 0; i < img.PixelCount; i++, s += ch, d += 3)
        {
            if (ch == 1) { dst[d] = dst[d + 1] = dst[d + 2] = src[s]; continue; }
            dst[d] = src[bgr ? s + 2 : s];
            dst[d + 1] = src[s + 1];
            dst[d + 2] = src[bgr ? s : s + 2];
        }
        return Raster.Create8(img.Width, img.Height, 3, dst);
    }

    /// <summary>The same image without its alpha channel (4 to 3 channels, same bit depth).</summary>
    public static Raster DropAlpha(Raster image)
    {
        if (image.Channels != 4) return image;
        int n = image.PixelCount;
        if (image.Is16Bit)
        {
            var s16 = image.Pixels16; var d16 = new ushort[n * 3];
            for (int i = 0; i < n; i++) { d16[i * 3] = s16[i * 4]; d16[i * 3 + 1] = s16[i * 4 + 1]; d16[i * 3 + 2] = s16[i * 4 + 2]; }
            return Raster.Create16(image.Width, image.Height, 3, d16);
        }
        var s8 = image.Pixels8; var d8 = new byte[n * 3];
        for (int i = 0; i < n; i++) { d8[i * 3] = s8[i * 4]; d8[i * 3 + 1] = s8[i * 4 + 1]; d8[i * 3 + 2] = s8[i * 4 + 2]; }
        return Raster.Create8(image.Width, image.Height, 3, d8);
    }

    /// <summary>True when every pixel has R = G = B (or the image is grey): it can be stored as grey losslessly.</summary>
    public static bool IsGreyInColour(Raster image)
    {
        if (image.Channels == 1) return true;
        int ch = image.Channels, n = image.PixelCount;
        if (image.Is16Bit)
        {
            var p = image.Pixels16;
            for (int i = 0; i < n; i++) if (p[i * ch] != p[i * ch + 1] || p[i * ch] != p[i * ch + 2]) return false;
        }
        else
        {
            var p = image.Pixels8;
            for (int i = 0; i < n; i++) if (p[i * ch] != p[i * ch + 1] || p[i * ch] != p[i * ch + 2]) return false;
        }
        return true;
    }

    /// <summary>
    /// The smallest lossless form for storage: alpha dropped (U-KAN reads colour without alpha), and colour whose
    /// pixels are all grey stored as one channel (reads back as the same 3 channels).
    /// </summary>
    public static Raster CompactForStorage(Raster image)
    {
        var img = DropAlpha(image);
        if (img.Channels == 1 || !IsGreyInColour(img)) return img;
        int n = img.PixelCount;
        if (img.Is16Bit)
        {
            var d = new ushort[n]; var s = img.Pixels16;
            for (int i = 0; i < n; i++) d[i] = s[i * 3];
            return Raster.Create16(img.Width, img.Height, 1, d);
        }
        var d8 = new byte[n]; var s8 = img.Pixels8;
        for (int i = 0; i < n; i++) d8[i] = s8[i * 3];
        return Raster.Create8(img.Width, img.Height, 1, d8);
    }

    /// <summary>Size that fits within <paramref name="maxSide"/> on the longer side, keeping the aspect ratio (never enlarges).</summary>
    public static (int Width, int Height) FitWithin(int width, int height, int maxSide)
    {
        if (Math.Max(width, height) <= maxSide) return (width, height);
        double s = (double)maxSide / Math.Max(width, height);
        return (Math.Max(1, (int)Math.Round(width * s)), Math.Max(1, (int)Math.Round(height * s)));
    }

    /// <summary>
    /// Area (box) resampling of an 8-bit image: each output pixel is the coverage-weighted mean of the input
    /// pixels under it, like OpenCV's INTER_AREA when shrinking. Used to make small copies without aliasing;
    /// training-time resizes follow the official cv2 INTER_LINEAR elsewhere.
    /// </summary>
    public static Raster ResizeArea(Raster image, int width, int height)
    {
        var img = To8Bit(image);
        int ch = img.Channels;
        var xs = AreaWeights(img.Width, width);
        var ys = AreaWeights(img.Height, height);
        var src = img.Pixels8;
        var tmp = new double[img.Height * width * ch];          // horizontal pass
        for (int y = 0; y < img.Height; y++)
            for (int x = 0; x < width; x++)
                foreach (var (sx, w) in xs[x])
                    for (int c = 0; c < ch; c++) tmp[(y * width + x) * ch + c] += w * src[(y * img.Width + sx) * ch + c];
        var dst = new byte[width * height * ch];                 // vertical pass
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < ch; c++)
                {
                    double v = 0;
                    foreach (var (sy, w) in ys[y]) v += w * tmp[(sy * width + x) * ch + c];
                    dst[(y * width + x) * ch + c] = (byte)Math.Clamp(Math.Round(v), 0, 255);
                }
        return Raster.Create8(width, height, ch, dst);
    }

    /// <summary>For each output index, the input indices it covers and their weights (summing to 1).</summary>
    static List<(int, double)>[] AreaWeights(int from, int to)
    {
        double scale = (double)from / to;
        var result = new List<(int, double)>[to];
        for (int o = 0; o < to; o++)
        {
            double a = o * scale, b = Math.Min(from, (o + 1) * scale);
            var list = new List<(int, double)>();
            if (scale <= 1)
            {
                // Enlarging: fall back to the nearest source pixel (area sampling is for shrinking).
                list.Add((Math.Min(from - 1, (int)((o + 0.5) * scale)), 1.0));
            }
            else
                for (int i = (int)Math.Floor(a); i < b; i++)
                {
                    double w = Math.Min(b, i + 1) - Math.Max(a, i);
                    if (w > 1e-12) list.Add((i, w / (b - a)));
                }
            result[o] = list;
        }
        return result;
    }

    /// <summary>Which input pixel a nearest-neighbour resize takes for output pixel x.</summary>
    public enum NearestRule
    {
        /// <summary>floor((x + 0.5)·from/to): sampling at pixel centres (OpenCV's INTER_NEAREST_EXACT, PIL).</summary>
        Centre,
        /// <summary>floor(x·from/to): OpenCV's INTER_NEAREST, which albumentations (hence U-KAN) uses for masks.</summary>
        OpenCv,
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

    /// <summary>
    /// Nearest-neighbour resampling (any depth). For masks, whose values must stay in their set.
    /// </summary>
    public static Raster ResizeNearest(Raster image, int width, int height, NearestRule rule = NearestRule.Centre)
    {
        int ch = image.Channels;
        var xi = NearestIndices(image.Width, width, rule);
        var yi = NearestIndices(image.Height, height, rule);
        Raster dst = image.Is16Bit ? Raster.Create16(width, height, ch) : Raster.Create8(width, height, ch);
        for (int y = 0; y < height; y++)
        {
            int sy = yi[y];
            for (int x = 0; x < width; x++)
            {
                int s = (sy * image.Width + xi[x]) * ch, d = (y * width + x) * ch;
                if (image.Is16Bit) Array.Copy(image.Pixels16, s, dst.Pixels16, d, ch);
                else Array.Copy(image.Pixels8, s, dst.Pixels8, d, ch);
            }
        }
        return dst;
    }

    /// <summary>For each of <paramref name="to"/> output positions, the source index that <paramref name="rule"/> samples.</summary>
    public static int[] NearestIndices(int from, int to, NearestRule rule)
    {
        double shift = rule == NearestRule.Centre ? 0.5 : 0.0;
        var index = new int[to];
        for (int o = 0; o < to; o++) index[o] = Math.Min(from - 1, (int)((o + shift) * from / to));
        return index;
    }

    internal static T[] GreyAlphaToRgba<T>(T[] ga)
    {
        var rgba = new T[ga.LongLength * 2];
        for (long i = 0, j = 0; i < ga.LongLength; i += 2, j += 4)
        {
            rgba[j] = rgba[j + 1] = rgba[j + 2] = ga[i];
            rgba[j + 3] = ga[i + 1];
        }
        return rgba;
    }
}
