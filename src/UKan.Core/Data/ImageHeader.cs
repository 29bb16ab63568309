using System.Buffers.Binary;

namespace UKan.Data;

/// <summary>
/// The pixel dimensions an image file declares in its header, read without decoding, and the limit on them: a
/// small file can declare an enormous image (a 1.3 MB PNG of 30000x30000 decodes to 2.7 GB), so the size is checked
/// before any pixel buffer is allocated.
/// </summary>
public static class ImageHeader
{
    /// <summary>The default limit: 40 megapixels, far above any medical segmentation dataset in use (GlaS: 0.5 MP).</summary>
    public const long DefaultMaxPixels = 40_000_000;

    /// <summary>
    /// The largest image (width × height) that is decoded. Set once per command from --max-pixels; a process-wide
    /// setting because images are decoded deep inside datasets, checks and loaders.
    /// </summary>
    public static long MaxPixels { get; set; } = DefaultMaxPixels;

    /// <summary>Width and height from the header, or null when the header cannot be read (the decoder then says why).</summary>
    public static (int Width, int Height)? Peek(ReadOnlySpan<byte> data, ImageFormat format)
    {
        try
        {
            switch (format)
            {
                case ImageFormat.Png:
                    // The IHDR chunk must come first: 8-byte signature, 4-byte length, "IHDR", width, height.
                    if (data.Length < 24) return null;
                    return ((int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(data[16..])), (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(data[20..])));
                case ImageFormat.Bmp:
                    if (data.Length < 26) return null;
                    if (BinaryPrimitives.ReadUInt32LittleEndian(data[14..]) == 12)
                        return (BinaryPrimitives.ReadUInt16LittleEndian(data[18..]), BinaryPrimitives.ReadUInt16LittleEndian(data[20..]));
                    int h = BinaryPrimitives.ReadInt32LittleEndian(data[22..]);
                    return (BinaryPrimitives.ReadInt32LittleEndian(data[18..]), h == int.MinValue ? int.MaxValue : Math.Abs(h));
                case ImageFormat.Jpeg:
                    return PeekJpeg(data);
                case ImageFormat.Tiff:
                    return TiffCodec.PeekSize(data.ToArray());
                default:
                    return null;
            }
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException or OverflowException)
        {
            return null;
        }
    }

    /// <summary>
    /// Throws a <see cref="UserError"/> naming the file when its declared size is over <paramref name="maxPixels"/>
    /// (default: <see cref="MaxPixels"/>).
    /// </summary>
    public static void Check(ReadOnlySpan<byte> data, ImageFormat format, string name, long? maxPixels = null)
    {
        if (Peek(data, format) is not (var w, var h)) return;
        long limit = maxPixels ?? MaxPixels;
        if ((long)w * h > limit) throw new PixelLimitError(name, w, h, limit);
    }

    /// <summary>The size in the first start-of-frame marker (SOF0–SOF15 except DHT, JPG and DAC).</summary>
    static (int, int)? PeekJpeg(ReadOnlySpan<byte> d)
    {
        int pos = 2;
        while (pos + 4 <= d.Length)
        {
            if (d[pos] != 0xFF) return null;
            byte marker = d[pos + 1];
            if (marker == 0xFF) { pos++; continue; }
            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7)) { pos += 2; continue; }
            int length = BinaryPrimitives.ReadUInt16BigEndian(d[(pos + 2)..]);
            if (marker is >= 0xC0 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC))
            {
                if (pos + 9 > d.Length) return null;
                return (BinaryPrimitives.ReadUInt16BigEndian(d[(pos + 7)..]), BinaryPrimitives.ReadUInt16BigEndian(d[(pos + 5)..]));
            }
            if (marker == 0xDA || length < 2) return null;
            pos += 2 + length;
        }
        return null;
    }
}
