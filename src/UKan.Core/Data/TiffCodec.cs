using System.Buffers.Binary;
using System.IO.Compression;

namespace UKan.Data;

/// <summary>
/// Baseline TIFF 6.0 reader (first image only): little- and big-endian; strips or tiles; chunky or planar;
/// no compression, PackBits, LZW (with horizontal predictor) and Deflate; 1/2/4/8/16-bit unsigned samples;
/// WhiteIsZero, MinIsBlack, RGB and palette; 1, 2 (grey+alpha), 3 or 4 (RGB+alpha) samples per pixel.
/// Departure from the standard, on purpose: CVC-ClinicDB's frames say MinIsBlack but carry 3 samples per
/// pixel; any MinIsBlack/WhiteIsZero file with 3 or more samples is read as RGB (what the pixels are).
/// </summary>
static class TiffCodec
{
    public static bool HasSignature(ReadOnlySpan<byte> d) =>
        d.Length >= 4 && ((d[0] == 'I' && d[1] == 'I' && d[2] == 42 && d[3] == 0) || (d[0] == 'M' && d[1] == 'M' && d[2] == 0 && d[3] == 42));

    sealed class Ifd(byte[] data, bool little)
    {
        public readonly Dictionary<int, long[]> Tags = [];
        public bool Little = little;

        public long[]? Get(int tag) => Tags.GetValueOrDefault(tag);
        public long One(int tag, long fallback) => Tags.TryGetValue(tag, out var v) && v.Length > 0 ? v[0] : fallback;
        public long[] Required(int tag, string name) => Get(tag) ?? throw new InvalidDataException($"corrupt TIFF (no {name} tag)");
        public byte U8(long at) => data[Check(at, 1)];
        public ushort U16(long at) => Little ? BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(Check(at, 2))) : BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(Check(at, 2)));
        public uint U32(long at) => Little ? BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(Check(at, 4))) : BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(Check(at, 4)));

        int Check(long at, int size)
        {
            if (at < 0 || at + size > data.Length) throw new InvalidDataException("truncated TIFF (a directory entry points past the end of the file)");
            return (int)at;
        }
    }

    /// <summary>Width and height of the first image, read from its directory only (nothing decoded).</summary>
    internal static (int Width, int Height)? PeekSize(byte[] data)
    {
        if (!HasSignature(data)) return null;
        var ifd = new Ifd(data, data[0] == 'I');
        ReadDirectory(ifd, ifd.U32(4));
        if (ifd.Get(256) is not [var w, ..] || ifd.Get(257) is not [var h, ..]) return null;
        return ((int)Math.Min(int.MaxValue, w), (int)Math.Min(int.MaxValue, h));
    }

    public static Raster Decode(byte[] data)
    {
        if (!HasSignature(data))
        {
            if (data.Length >= 4 && data[2] == 43) throw new InvalidDataException("BigTIFF is not supported; save it as a classic TIFF or PNG");
            throw new InvalidDataException("not a TIFF file (bad header)");
        }
        var ifd = new Ifd(data, data[0] == 'I');
        ReadDirectory(ifd, ifd.U32(4));

        int width = checked((int)ifd.Required(256, "ImageWidth")[0]);
        int height = checked((int)ifd.Required(257, "ImageLength")[0]);
        int spp = (int)ifd.One(277, 1);
        var bitsTag = ifd.Get(258) ?? [1];
        int bits = (int)bitsTag[0];
        if (bitsTag.Any(b => b != bits)) throw new InvalidDataException("unsupported TIFF (samples of different bit depths)");
        int compression = (int)ifd.One(259, 1);
        int photometric = (int)ifd.One(262, spp >= 3 ? 2 : 1);
        int planar = (int)ifd.One(284, 1);
        int predictor = (int)ifd.One(317, 1);
        int fillOrder = (int)ifd.One(266, 1);
        var sampleFormat = ifd.Get(339);
        if (width <= 0 || height <= 0) throw new InvalidDataException($"invalid TIFF size {width}x{height}");
        if (bits is not (1 or 2 or 4 or 8 or 16)) throw new InvalidDataException($"unsupported TIFF bit depth {bits} (1, 2, 4, 8 or 16 are read)");
        if (sampleFormat is not null && sampleFormat.Any(f => f != 1)) throw new InvalidDataException("unsupported TIFF sample format (only unsigned integers are read)");
        if (spp is < 1 or > 4) throw new InvalidDataException($"unsupported TIFF with {spp} samples per pixel");
        if (fillOrder != 1) throw new InvalidDataException("unsupported TIFF fill order 2");
        if (photometric is not (0 or 1 or 2 or 3))
            throw new InvalidDataException($"unsupported TIFF photometric interpretation {photometric} (grey, RGB and palette are read)");
        if (photometric == 3 && (spp != 1 || bits > 8)) throw new InvalidDataException("unsupported palette TIFF layout");
        if (predictor is not (1 or 2)) throw new InvalidDataException($"unsupported TIFF predictor {predictor}");
        if (predictor == 2 && bits < 8) throw new InvalidDataException("unsupported TIFF (predictor with less than 8 bits)");

        // Chunks are strips (full width) or tiles; in planar layout there is one set per sample.
        bool tiled = ifd.Get(322) is not null;
        int chunkW = tiled ? checked((int)ifd.Required(322, "TileWidth")[0]) : width;
        int chunkH = tiled ? checked((int)ifd.Required(323, "TileLength")[0]) : (int)Math.Min(height, ifd.One(278, height));
        if (chunkW <= 0 || chunkH <= 0) throw new InvalidDataException("corrupt TIFF (zero strip or tile size)");
        var offsets = tiled ? ifd.Required(324, "TileOffsets") : ifd.Required(273, "StripOffsets");
        var counts = tiled ? ifd.Get(325) : ifd.Get(279);
        int across = (width + chunkW - 1) / chunkW, down = (height + chunkH - 1) / chunkH;
        int planes = planar == 2 ? spp : 1, chunkSpp = planar == 2 ? 1 : spp;
        if (offsets.Length < (long)across * down * planes) throw new InvalidDataException("corrupt TIFF (too few strip or tile offsets)");
        long chunkRowBytes = ((long)chunkW * chunkSpp * bits + 7) / 8;
        long chunkBytes = chunkRowBytes * chunkH;
        if (counts is null)
        {
            if (compression != 1) throw new InvalidDataException("corrupt TIFF (no StripByteCounts)");
            counts = Enumerable.Repeat(chunkBytes, offsets.Length).ToArray();
        }

        // Unpack to samples at the file's depth (below 8 bits scaled to 0..255 unless palette).
        var s8 = bits == 16 ? null : new byte[(long)width * height * spp];
        var s16 = bits == 16 ? new ushort[(long)width * height * spp] : null;
        int max = (1 << bits) - 1;
        for (int p = 0; p < planes; p++)
            for (int cy = 0; cy < down; cy++)
                for (int cx = 0; cx < across; cx++)
                {
                    int k = (p * down + cy) * across + cx;
                    long off = offsets[k], n = counts[k];
                    if (off < 0 || n < 0 || off + n > data.Length) throw new InvalidDataException("truncated TIFF (a strip or tile runs past the end of the file)");
                    var chunk = Decompress(compression, data.AsSpan((int)off, (int)n), (int)chunkBytes);
                    if (predictor == 2) UndoPredictor(chunk, chunkW, chunkH, chunkSpp, bits, ifd.Little);
                    int rows = Math.Min(chunkH, height - cy * chunkH), cols = Math.Min(chunkW, width - cx * chunkW);
                    for (int r = 0; r < rows; r++)
                    {
                        int y = cy * chunkH + r;
                        long rowStart = r * chunkRowBytes;
                        for (int i = 0; i < cols; i++)
                        {
                            long dstPixel = (long)y * width + cx * chunkW + i;
                            for (int c = 0; c < chunkSpp; c++)
                            {
                                long dst = dstPixel * spp + (planar == 2 ? p : c);
                                long sample = (long)i * chunkSpp + c;
                                if (bits == 16)
                                {
                                    var at = chunk.AsSpan((int)(rowStart + sample * 2));
                                    s16![dst] = ifd.Little ? BinaryPrimitives.ReadUInt16LittleEndian(at) : BinaryPrimitives.ReadUInt16BigEndian(at);
                                }
                                else if (bits == 8) s8![dst] = chunk[rowStart + sample];
                                else
                                {
                                    long bit = sample * bits;
                                    int v = (chunk[rowStart + (bit >> 3)] >> (int)(8 - bits - (bit & 7))) & max;
                                    s8![dst] = (byte)(photometric == 3 ? v : v * 255 / max);
                                }
                            }
                        }
                    }
                }

        if (photometric == 0 && spp <= 2)
        {
            // WhiteIsZero: invert the grey (alpha stays; with 3+ samples the file is read as plain RGB).
            if (s16 is not null) for (long i = 0; i < s16.LongLength; i += spp) s16[i] = (ushort)(65535 - s16[i]);
            else for (long i = 0; i < s8!.LongLength; i += spp) s8[i] = (byte)(255 - s8[i]);
        }
        if (photometric == 3) return ExpandColorMap(s8!, width, height, ifd.Required(320, "ColorMap"), bits);
        return spp switch
        {
            1 or 3 or 4 => s16 is not null ? Raster.Create16(width, height, spp, s16) : Raster.Create8(width, height, spp, s8),
            _ => s16 is not null ? Raster.Create16(width, height, 4, ImageOps.GreyAlphaToRgba(s16)) : Raster.Create8(width, height, 4, ImageOps.GreyAlphaToRgba(s8!)),
        };
    }

    static void ReadDirectory(Ifd ifd, long at)
    {
        int n = ifd.U16(at);
        for (int e = 0; e < n; e++)
        {
            long entry = at + 2 + 12L * e;
            int tag = ifd.U16(entry), type = ifd.U16(entry + 2);
            long count = ifd.U32(entry + 4);
            int size = type switch { 1 or 2 or 6 or 7 => 1, 3 or 8 => 2, 4 or 9 => 4, 5 or 10 or 12 => 8, 11 => 4, 16 or 17 or 18 => 8, _ => 0 };
            if (size == 0 || type is 2 or 5 or 7 or 10 or 11 or 12) continue; // only integer tags matter here
            if (count > 1 << 24) throw new InvalidDataException("corrupt TIFF (absurd tag count)");
            long valueAt = size * count <= 4 ? entry + 8 : ifd.U32(entry + 8);
            var values = new long[count];
            for (int i = 0; i < count; i++)
            {
                long p = valueAt + (long)i * size;
                values[i] = type switch
                {
                    1 or 6 => ifd.U8(p),
                    3 or 8 => ifd.U16(p),
                    _ => ifd.U32(p),
                };
            }
            ifd.Tags[tag] = values;
        }
    }

    static byte[] Decompress(int compression, ReadOnlySpan<byte> src, int expected)
    {
        switch (compression)
        {
            case 1:
            {
                // Uncompressed: the last strip may legitimately be shorter than a full strip.
                var dst = new byte[expected];
                src[..Math.Min(src.Length, expected)].CopyTo(dst);
                return dst;
            }
            case 32773: return PackBitsDecode(src, expected);
            case 5: return LzwDecode(src, expected);
            case 8 or 32946:
            {
                var dst = new byte[expected];
                using var z = new ZLibStream(new MemoryStream(src.ToArray()), CompressionMode.Decompress);
                int got = 0, r;
                while (got < expected && (r = z.Read(dst, got, expected - got)) > 0) got += r;
                return dst;
            }
            default:
                throw new InvalidDataException($"unsupported TIFF compression {compression} (none, PackBits, LZW and Deflate are read)");
        }
    }

    /// <summary>PackBits (Apple; TIFF 6.0 section 9). Output past <paramref name="expected"/> is dropped.</summary>
    internal static byte[] PackBitsDecode(ReadOnlySpan<byte> src, int expected)
    {
        var dst = new byte[expected];
        int i = 0, o = 0;
        while (i < src.Length && o < expected)
        {
            int n = (sbyte)src[i++];
            if (n >= 0)
            {
                int len = Math.Min(n + 1, Math.Min(src.Length - i, expected - o));
                src.Slice(i, len).CopyTo(dst.AsSpan(o));
                i += n + 1; o += len;
            }
            else if (n != -128)
            {
                if (i >= src.Length) break;
                byte b = src[i++];
                int len = Math.Min(1 - n, expected - o);
                dst.AsSpan(o, len).Fill(b);
                o += len;
            }
        }
        return dst;
    }

    /// <summary>
    /// TIFF LZW (TIFF 6.0 section 13): MSB-first codes of 9..12 bits, Clear = 256, EOI = 257, and the code width
    /// grows one code early (when the next free entry reaches 2^n - 1), as libtiff writes it.
    /// </summary>
    internal static byte[] LzwDecode(ReadOnlySpan<byte> src, int expected)
    {
        if (src.Length >= 2 && src[0] == 0 && (src[1] & 1) != 0)
            throw new InvalidDataException("unsupported TIFF (old-style LZW from before TIFF 6.0)");
        var dst = new byte[expected];
        var prefix = new short[4096];
        var suffix = new byte[4096];
        var length = new short[4096];
        var first = new byte[4096];
        for (int c = 0; c < 256; c++) { suffix[c] = (byte)c; first[c] = (byte)c; length[c] = 1; prefix[c] = -1; }
        int next = 258, width = 9, old = -1, o = 0;
        long bitPos = 0, totalBits = (long)src.Length * 8;
        var stack = new byte[4096];
        while (o < expected && bitPos + width <= totalBits)
        {
            int code = 0;
            for (int b = 0; b < width; b++, bitPos++)
                code = (code << 1) | ((src[(int)(bitPos >> 3)] >> (7 - (int)(bitPos & 7))) & 1);
            if (code == 257) break;
            if (code == 256) { next = 258; width = 9; old = -1; continue; }
            if (code > next || (code == next && old < 0)) throw new InvalidDataException("corrupt TIFF LZW data");
            int emit = code == next ? old : code;
            // Write the string for `emit` (walking prefixes backwards), then the KwKwK extra byte.
            int len = length[emit];
            for (int c = emit, k = len - 1; c >= 0; c = prefix[c], k--) stack[k] = suffix[c];
            int copy = Math.Min(len, expected - o);
            stack.AsSpan(0, copy).CopyTo(dst.AsSpan(o));
            o += copy;
            if (code == next && o < expected) dst[o++] = first[old];
            if (old >= 0 && next < 4096)
            {
                prefix[next] = (short)old;
                suffix[next] = first[code == next ? old : code];
                length[next] = (short)(length[old] + 1);
                first[next] = first[old];
                next++;
            }
            old = code;
            if (next >= (1 << width) - 1 && width < 12) width++;
        }
        return dst;
    }

    static void UndoPredictor(byte[] chunk, int w, int h, int spp, int bits, bool little)
    {
        int rowBytes = w * spp * bits / 8;
        for (int y = 0; y < h; y++)
        {
            int row = y * rowBytes;
            if (row + rowBytes > chunk.Length) break;
            if (bits == 8)
                for (int i = spp; i < w * spp; i++) chunk[row + i] += chunk[row + i - spp];
            else
                for (int i = spp; i < w * spp; i++)
                {
                    var cur = chunk.AsSpan(row + i * 2, 2);
                    var prev = chunk.AsSpan(row + (i - spp) * 2, 2);
                    ushort v = little
                        ? (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(cur) + BinaryPrimitives.ReadUInt16LittleEndian(prev))
                        : (ushort)(BinaryPrimitives.ReadUInt16BigEndian(cur) + BinaryPrimitives.ReadUInt16BigEndian(prev));
                    if (little) BinaryPrimitives.WriteUInt16LittleEndian(cur, v); else BinaryPrimitives.WriteUInt16BigEndian(cur, v);
                }
        }
    }

    static Raster ExpandColorMap(byte[] indices, int width, int height, long[] map, int bits)
    {
        int entries = 1 << bits;
        if (map.Length < 3 * entries) throw new InvalidDataException("corrupt TIFF (ColorMap too short)");
        var rgb = new byte[indices.LongLength * 3];
        for (long i = 0; i < indices.LongLength; i++)
            for (int c = 0; c < 3; c++)
                rgb[i * 3 + c] = (byte)((map[c * entries + indices[i]] * 255 + 32767) / 65535);
        return Raster.Create8(width, height, 3, rgb);
    }
}
