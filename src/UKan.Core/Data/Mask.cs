namespace UKan.Data;

/// <summary>
/// One class mask of one sample: the 8-bit grey values as stored (<see cref="Grey"/>) and the foreground as 0/1
/// (<see cref="Binary"/>).
/// <para>
/// Binarisation (<see cref="Binarize(ReadOnlySpan{byte})"/>): foreground = grey ≥ 128, except when every value is below 128 — masks
/// stored as 0/1 (or small label ids) — where foreground = grey > 0. Why ≥ 128 and not > 0: masks are meant to be
/// {0, 255}, but JPEG-compressed masks (Kvasir-SEG) and resampled ones (CVC-ClinicDB's soft edges) carry values
/// near 0 and near 255; the midpoint splits those evenly, where > 0 would turn every ringing pixel into
/// foreground. On {0, 255} and {0, 1} masks both rules and the official loader agree exactly.
/// </para>
/// <para>
/// The official U-KAN loader instead divides by 255 and sets every value > 0 to 1 only when the maximum is below
/// 1 (i.e. below 255): soft values of a 0..255 mask then stay fractional targets. <see cref="OfficialTargets"/>
/// reproduces that for the official preprocessing preset.
/// </para>
/// </summary>
public sealed class Mask
{
    public string Path { get; }
    /// <summary>1 channel, 8-bit: what <c>cv2.imread(path, IMREAD_GRAYSCALE)</c> gives (see <see cref="ToGrey"/>).</summary>
    public Raster Grey { get; }
    /// <summary>Width x Height values, 1 = foreground, 0 = background.</summary>
    public byte[] Binary { get; }

    public Mask(string path, Raster grey)
    {
        if (grey.Channels != 1 || grey.Is16Bit) throw new ArgumentException("a mask is 1-channel 8-bit; convert it with Mask.ToGrey", nameof(grey));
        Path = path;
        Grey = grey;
        Binary = Binarize(grey.Pixels8);
    }

    /// <summary>Builds a mask from a decoded file of any form (colour, alpha, 16-bit).</summary>
    public static Mask FromDecoded(string path, Raster decoded) => new(path, ToGrey(decoded));

    public int Width => Grey.Width;
    public int Height => Grey.Height;

    /// <summary>Foreground pixels / all pixels.</summary>
    public double ForegroundFraction
    {
        get
        {
            long n = 0;
            foreach (var b in Binary) n += b;
            return (double)n / Binary.Length;
        }
    }

    /// <summary>
    /// Mask file contents to one 8-bit grey channel. Colour: BT.601 weights (<see cref="ImageOps.ToGray8"/>), alpha
    /// dropped. 16-bit: values are kept as they are when all are ≤ 255 (so 16-bit 0/1 masks stay 0/1; OpenCV would
    /// read them as all 0), else scaled by round(v / 257) (65535 → 255).
    /// </summary>
    public static Raster ToGrey(Raster decoded)
    {
        if (decoded.Is16Bit)
        {
            var p = decoded.Pixels16;
            int max = 0;
            foreach (var v in p) if (v > max) max = v;
            if (max <= 255)
            {
                var b = new byte[p.Length];
                for (int i = 0; i < p.Length; i++) b[i] = (byte)p[i];
                decoded = Raster.Create8(decoded.Width, decoded.Height, decoded.Channels, b);
            }
        }
        return ImageOps.ToGray8(decoded);
    }

    /// <summary>The threshold rule described on <see cref="Mask"/>: ≥ 128, or > 0 when every value is below 128.</summary>
    public static byte[] Binarize(ReadOnlySpan<byte> grey)
    {
        byte max = 0;
        foreach (var v in grey) if (v > max) max = v;
        int threshold = max >= 128 ? 128 : 1;
        var result = new byte[grey.Length];
        for (int i = 0; i < grey.Length; i++) result[i] = grey[i] >= threshold ? (byte)1 : (byte)0;
        return result;
    }

    /// <summary>Binarises at a fixed threshold: foreground = grey ≥ <paramref name="threshold"/>.</summary>
    public static byte[] Binarize(ReadOnlySpan<byte> grey, int threshold)
    {
        var result = new byte[grey.Length];
        for (int i = 0; i < grey.Length; i++) result[i] = grey[i] >= threshold ? (byte)1 : (byte)0;
        return result;
    }

    /// <summary>The official U-KAN target of a one-class sample (see <see cref="OfficialTargets"/>).</summary>
    public float[] OfficialTarget() => OfficialTargets([this])[0];

    /// <summary>
    /// U-KAN <c>Dataset.__getitem__</c> steps 5-6 on the class masks of one sample:
    /// <c>m = grey / 255; if m.max() &lt; 1: m[m &gt; 0] = 1</c>, the maximum taken over all classes together.
    /// So 0/1 masks become 0/1, 0/255 masks 0/1, and soft values of a mask reaching 255 stay fractional.
    /// </summary>
    public static float[][] OfficialTargets(IReadOnlyList<Mask> masks)
    {
        byte max = 0;
        foreach (var m in masks) foreach (var v in m.Grey.Pixels8) if (v > max) max = v;
        return masks.Select(m =>
        {
            var g = m.Grey.Pixels8;
            var t = new float[g.Length];
            for (int i = 0; i < g.Length; i++) t[i] = max < 255 && g[i] > 0 ? 1f : g[i] / 255f;
            return t;
        }).ToArray();
    }

    /// <summary>A 0/255 single-channel image of <see cref="Binary"/>, the form our prepared datasets store.</summary>
    public Raster ToBinaryImage() => BinaryImage(Binary, Width, Height);

    /// <summary>A 0/255 single-channel image of a 0/1 foreground map.</summary>
    public static Raster BinaryImage(byte[] foreground, int width, int height)
    {
        var px = new byte[foreground.Length];
        for (int i = 0; i < px.Length; i++) px[i] = foreground[i] != 0 ? (byte)255 : (byte)0;
        return Raster.Create8(width, height, 1, px);
    }
}
