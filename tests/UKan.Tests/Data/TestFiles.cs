using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using UKan.Data;

namespace UKan.Tests.Data;

/// <summary>A temporary folder, deleted when disposed.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ukan-tests-" + Guid.NewGuid().ToString("N")[..12]);

    public TempDir() => Directory.CreateDirectory(Path);

    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    /// <summary>Writes bytes to a path relative to the folder, creating folders as needed; returns the full path.</summary>
    public string Write(string relative, byte[] bytes)
    {
        var full = this[relative];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        File.WriteAllBytes(full, bytes);
        return full;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>Synthetic pictures and file writers for formats the library only reads (BMP, TIFF, odd PNG forms).</summary>
public static class TestFiles
{
    /// <summary>A smooth deterministic 8-bit picture (gradients plus a little texture).</summary>
    public static Raster Picture(int w, int h, int channels, int seed = 0)
    {
        var p = new byte[w * h * channels];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < channels; c++)
                    p[(y * w + x) * channels + c] = (byte)((x * 255 / Math.Max(1, w - 1) * (c + 1) + y * 3 + c * 40 + seed * 17 + ((x ^ y) & 3)) & 255);
        return Raster.Create8(w, h, channels, p);
    }

    /// <summary>A 16-bit picture using the full range (values that do not survive a trip through 8 bits).</summary>
    public static Raster Picture16(int w, int h, int channels)
    {
        var p = new ushort[w * h * channels];
        for (int i = 0; i < p.Length; i++) p[i] = (ushort)(i * 2654435761u >> 16);
        return Raster.Create16(w, h, channels, p);
    }

    /// <summary>A 0/255 grey disc mask.</summary>
    public static Raster Disc(int w, int h, double cx, double cy, double r)
    {
        var p = new byte[w * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                p[y * w + x] = (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r ? (byte)255 : (byte)0;
        return Raster.Create8(w, h, 1, p);
    }

    public static byte[] Png(Raster r) => ImageFile.EncodePng(r);

    // ---------------------------------------------------------------- PNG of any form

    /// <summary>
    /// A PNG with any colour type / depth / interlace, rows unfiltered (filter 0). <paramref name="sample"/> gives
    /// sample c of pixel (x, y) at the file's depth (palette: the index).
    /// </summary>
    public static byte[] RawPng(int w, int h, int colorType, int depth, Func<int, int, int, int> sample, bool adam7 = false,
        byte[]? palette = null, byte[]? trns = null)
    {
        int spp = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        var raw = new MemoryStream();
        (int, int, int, int)[] passes = adam7
            ? [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
            : [(0, 0, 1, 1)];
        foreach (var (x0, y0, dx, dy) in passes)
        {
            int pw = (w - x0 + dx - 1) / dx, ph = (h - y0 + dy - 1) / dy;
            if (pw <= 0 || ph <= 0) continue;
            for (int r = 0; r < ph; r++)
            {
                raw.WriteByte(0);
                var bits = new BitWriter();
                for (int i = 0; i < pw; i++)
                    for (int c = 0; c < spp; c++) bits.Write(sample(x0 + i * dx, y0 + r * dy, c), depth);
                raw.Write(bits.ToArray());
            }
        }
        var z = new MemoryStream();
        using (var zs = new ZLibStream(z, CompressionLevel.Fastest, leaveOpen: true)) zs.Write(raw.ToArray());
        var png = new MemoryStream();
        png.Write([137, 80, 78, 71, 13, 10, 26, 10]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = (byte)depth; ihdr[9] = (byte)colorType; ihdr[12] = (byte)(adam7 ? 1 : 0);
        Chunk(png, "IHDR", ihdr);
        if (palette is not null) Chunk(png, "PLTE", palette);
        if (trns is not null) Chunk(png, "tRNS", trns);
        Chunk(png, "IDAT", z.ToArray());
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    static void Chunk(Stream s, string type, byte[] body)
    {
        var head = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, body.Length);
        System.Text.Encoding.ASCII.GetBytes(type, head.AsSpan(4));
        s.Write(head);
        s.Write(body);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32.HashToUInt32([.. head.AsSpan(4), .. body]));
        s.Write(crc);
    }

    /// <summary>MSB-first bit packing (PNG rows, TIFF LZW codes).</summary>
    sealed class BitWriter
    {
        readonly List<byte> bytes = [];
        int acc, n;
        public void Write(int value, int width)
        {
            for (int b = width - 1; b >= 0; b--)
            {
                acc = (acc << 1) | ((value >> b) & 1);
                if (++n == 8) { bytes.Add((byte)acc); acc = 0; n = 0; }
            }
        }
        public byte[] ToArray()
        {
            if (n > 0) { bytes.Add((byte)(acc << (8 - n))); acc = 0; n = 0; }
            return [.. bytes];
        }
    }

    // ---------------------------------------------------------------- BMP

    /// <summary>24-bit BMP (bottom-up unless <paramref name="topDown"/>) of an 8-bit RGB raster.</summary>
    public static byte[] Bmp24(Raster rgb, bool topDown = false)
    {
        int stride = (rgb.Width * 3 + 3) / 4 * 4;
        var pixels = new byte[stride * rgb.Height];
        for (int y = 0; y < rgb.Height; y++)
        {
            int row = topDown ? y : rgb.Height - 1 - y;
            for (int x = 0; x < rgb.Width; x++)
                for (int c = 0; c < 3; c++) pixels[row * stride + x * 3 + c] = (byte)rgb[x, y, 2 - c];
        }
        return BmpFile(rgb.Width, topDown ? -rgb.Height : rgb.Height, 24, [], pixels);
    }

    /// <summary>8-bit palette BMP: one index per pixel; <paramref name="palette"/> RGB triples (default grey ramp).</summary>
    public static byte[] Bmp8(int w, int h, byte[] indices, byte[]? palette = null)
    {
        palette ??= Enumerable.Range(0, 256).SelectMany(i => new[] { (byte)i, (byte)i, (byte)i }).ToArray();
        int entries = palette.Length / 3;
        var pal = new byte[entries * 4];
        for (int i = 0; i < entries; i++) { pal[i * 4] = palette[i * 3 + 2]; pal[i * 4 + 1] = palette[i * 3 + 1]; pal[i * 4 + 2] = palette[i * 3]; }
        int stride = (w + 3) / 4 * 4;
        var pixels = new byte[stride * h];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) pixels[(h - 1 - y) * stride + x] = indices[y * w + x];
        return BmpFile(w, h, 8, pal, pixels, entries);
    }

    /// <summary>A BMP with a 40-byte header; <paramref name="palette"/> as stored (BGRx), pixels as stored.</summary>
    public static byte[] BmpFile(int w, int h, int bpp, byte[] palette, byte[] pixels, int colorsUsed = 0, int compression = 0)
    {
        var f = new byte[14 + 40 + palette.Length + pixels.Length];
        f[0] = (byte)'B'; f[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(2), f.Length);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(10), 14 + 40 + palette.Length);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(18), w);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(22), h);
        BinaryPrimitives.WriteInt16LittleEndian(f.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(f.AsSpan(28), (short)bpp);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(30), compression);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(34), pixels.Length);
        BinaryPrimitives.WriteInt32LittleEndian(f.AsSpan(46), colorsUsed);
        palette.CopyTo(f, 54);
        pixels.CopyTo(f, 54 + palette.Length);
        return f;
    }

    // ---------------------------------------------------------------- TIFF

    public enum TiffCompression { None = 1, Lzw = 5, PackBits = 32773 }

    /// <summary>
    /// A baseline TIFF of an 8- or 16-bit raster (chunky), in strips of <paramref name="rowsPerStrip"/> rows.
    /// <paramref name="photometric"/> defaults to what the channels say; CVC-ClinicDB's malformed frames are
    /// <c>photometric: 1</c> with 3 channels.
    /// </summary>
    public static byte[] Tiff(Raster img, TiffCompression compression = TiffCompression.None, bool bigEndian = false,
        int rowsPerStrip = 7, int? photometric = null, bool predictor = false, bool planar = false)
    {
        int spp = img.Channels, bytesPerSample = img.Is16Bit ? 2 : 1;
        var strips = new List<byte[]>();
        int planes = planar ? spp : 1, chunkSpp = planar ? 1 : spp;
        for (int p = 0; p < planes; p++)
            for (int y0 = 0; y0 < img.Height; y0 += rowsPerStrip)
            {
                int rows = Math.Min(rowsPerStrip, img.Height - y0), rowBytes = img.Width * chunkSpp * bytesPerSample;
                var raw = new byte[rows * rowBytes];
                for (int r = 0; r < rows; r++)
                    for (int x = 0; x < img.Width; x++)
                        for (int c = 0; c < chunkSpp; c++)
                        {
                            int v = img[x, y0 + r, planar ? p : c];
                            if (predictor && x > 0) v -= img[x - 1, y0 + r, planar ? p : c];
                            int at = r * rowBytes + (x * chunkSpp + c) * bytesPerSample;
                            if (bytesPerSample == 1) raw[at] = (byte)v;
                            else if (bigEndian) BinaryPrimitives.WriteUInt16BigEndian(raw.AsSpan(at), (ushort)v);
                            else BinaryPrimitives.WriteUInt16LittleEndian(raw.AsSpan(at), (ushort)v);
                        }
                strips.Add(compression switch
                {
                    TiffCompression.Lzw => LzwEncode(raw),
                    TiffCompression.PackBits => PackBitsEncode(raw),
                    _ => raw,
                });
            }
        var tags = new SortedDictionary<int, (int Type, long[] Values)>
        {
            [256] = (3, [img.Width]),
            [257] = (3, [img.Height]),
            [258] = (3, Enumerable.Repeat((long)img.BitDepth, spp).ToArray()),
            [259] = (3, [(int)compression]),
            [262] = (3, [photometric ?? (spp >= 3 ? 2 : 1)]),
            [273] = (4, new long[strips.Count]),
            [277] = (3, [spp]),
            [278] = (3, [rowsPerStrip]),
            [279] = (4, strips.Select(s => (long)s.Length).ToArray()),
            [284] = (3, [planar ? 2 : 1]),
        };
        if (predictor) tags[317] = (3, [2]);
        return TiffFile(bigEndian, tags, strips);
    }

    /// <summary>Lays out header, pixel data, out-of-line tag values and the directory; fills StripOffsets.</summary>
    public static byte[] TiffFile(bool bigEndian, SortedDictionary<int, (int Type, long[] Values)> tags, List<byte[]> strips)
    {
        var f = new MemoryStream();
        void U16(int v) { var b = new byte[2]; if (bigEndian) BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)v); else BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); f.Write(b); }
        void U32(long v) { var b = new byte[4]; if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(b, (uint)v); else BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)v); f.Write(b); }
        f.Write(bigEndian ? "MM"u8 : "II"u8); U16(42); U32(0);
        var offsets = tags[273].Values;
        for (int i = 0; i < strips.Count; i++) { offsets[i] = f.Position; f.Write(strips[i]); if ((f.Position & 1) == 1) f.WriteByte(0); }
        var outOfLine = new Dictionary<int, long>();
        foreach (var (tag, (type, values)) in tags)
        {
            int size = type == 3 ? 2 : 4;
            if (values.Length * size <= 4) continue;
            outOfLine[tag] = f.Position;
            foreach (var v in values) if (size == 2) U16((int)v); else U32(v);
        }
        long ifd = f.Position;
        U16(tags.Count);
        foreach (var (tag, (type, values)) in tags)
        {
            U16(tag); U16(type); U32(values.Length);
            if (outOfLine.TryGetValue(tag, out var at)) U32(at);
            else
            {
                int size = type == 3 ? 2 : 4;
                for (int i = 0; i < 4 / size; i++) { long v = i < values.Length ? values[i] : 0; if (size == 2) U16((int)v); else U32(v); }
            }
        }
        U32(0);
        var bytes = f.ToArray();
        if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4), (uint)ifd); else BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)ifd);
        return bytes;
    }

    /// <summary>PackBits: literal runs and repeats of up to 128 bytes.</summary>
    public static byte[] PackBitsEncode(byte[] src)
    {
        var o = new List<byte>();
        int i = 0;
        while (i < src.Length)
        {
            int run = 1;
            while (i + run < src.Length && run < 128 && src[i + run] == src[i]) run++;
            if (run >= 3) { o.Add((byte)(sbyte)(1 - run)); o.Add(src[i]); i += run; continue; }
            int start = i, len = 0;
            while (i < src.Length && len < 128 && !(i + 2 < src.Length && src[i] == src[i + 1] && src[i] == src[i + 2])) { i++; len++; }
            o.Add((byte)(len - 1));
            for (int k = start; k < start + len; k++) o.Add(src[k]);
        }
        return [.. o];
    }

    /// <summary>TIFF LZW as libtiff writes it: Clear first, width grows when the next code reaches 2^n, Clear at 4094.</summary>
    public static byte[] LzwEncode(byte[] src)
    {
        var bits = new BitWriter();
        var table = new Dictionary<(int, byte), int>();
        int width = 9, next = 258;
        bits.Write(256, width);
        if (src.Length == 0) { bits.Write(257, width); return bits.ToArray(); }
        int prefix = src[0];
        for (int i = 1; i < src.Length; i++)
        {
            byte c = src[i];
            if (table.TryGetValue((prefix, c), out int code)) { prefix = code; continue; }
            bits.Write(prefix, width);
            table[(prefix, c)] = next++;
            if (next == 4094) { bits.Write(256, width); table.Clear(); next = 258; width = 9; }
            else if (next >= 1 << width) width++;
            prefix = c;
        }
        bits.Write(prefix, width);
        next++;
        if (next >= 1 << width && width < 12) width++;
        bits.Write(257, width);
        return bits.ToArray();
    }
}
