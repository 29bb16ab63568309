using System.Buffers.Binary;
using System.Numerics;

namespace UKan.Data;

/// <summary>
/// Windows BMP reader (OS/2 core and BITMAPINFOHEADER..V5 headers; 1/4/8-bit palette, 16/24/32-bit direct
/// colour, RLE8, RLE4 and bit fields; bottom-up and top-down). Written here instead of using StbImageSharp
/// because GlaS annotations are 8-bit palette BMPs whose palette *indices* are gland ids: the reader can
/// return the indices themselves (<c>keepPaletteIndices</c>). A palette whose entries are all grey gives a
/// grey image (as PIL's mode "L"); another palette gives RGB.
/// </summary>
static class BmpCodec
{
    public static bool HasSignature(ReadOnlySpan<byte> d) => d.Length >= 2 && d[0] == 'B' && d[1] == 'M';

    public static Raster Decode(byte[] data, bool keepPaletteIndices = false)
    {
        if (!HasSignature(data)) throw new InvalidDataException("not a BMP file (bad signature)");
        if (data.Length < 26) throw new InvalidDataException("truncated BMP (header incomplete)");
        long pixelOffset = U32(data, 10);
        int headerSize = (int)U32(data, 14);
        if (headerSize < 12 || 14 + headerSize > data.Length) throw new InvalidDataException("truncated or corrupt BMP header");
        int width, height, bpp, compression = 0, colorsUsed = 0;
        uint rMask = 0, gMask = 0, bMask = 0, aMask = 0;
        bool core = headerSize == 12;
        if (core)
        {
            width = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(18));
            height = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(20));
            bpp = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(24));
        }
        else
        {
            if (headerSize < 40) throw new InvalidDataException($"unsupported BMP header size {headerSize}");
            width = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(18));
            height = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(22));
            bpp = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(28));
            compression = (int)U32(data, 30);
            colorsUsed = (int)U32(data, 46);
            if (compression is 3 or 6)
            {
                // Bit masks sit in the header from V2 on, else right after a 40-byte header.
                int m = 14 + 40;
                if (m + (compression == 6 || headerSize >= 56 ? 16 : 12) > data.Length) throw new InvalidDataException("truncated BMP (bit masks missing)");
                rMask = U32(data, m); gMask = U32(data, m + 4); bMask = U32(data, m + 8);
                if (compression == 6 || headerSize >= 56) aMask = U32(data, m + 12);
            }
        }
        bool topDown = height < 0;
        height = Math.Abs(height);
        if (width <= 0 || height <= 0 || (long)width * height > 1L << 28) throw new InvalidDataException($"invalid BMP size {width}x{height}");
        if (bpp is not (1 or 4 or 8 or 16 or 24 or 32)) throw new InvalidDataException($"unsupported BMP bit depth {bpp}");
        if (compression is not (0 or 1 or 2 or 3 or 6)) throw new InvalidDataException($"unsupported BMP compression {compression} (JPEG/PNG inside BMP are not read)");
        if ((compression == 1 && bpp != 8) || (compression == 2 && bpp != 4)) throw new InvalidDataException("corrupt BMP (RLE with the wrong bit depth)");

        byte[]? palette = null; // RGB triples
        if (bpp <= 8)
        {
            int entries = colorsUsed > 0 ? Math.Min(colorsUsed, 256) : 1 << bpp;
            int entrySize = core ? 3 : 4;
            int start = 14 + headerSize + (headerSize == 40 && compression == 3 ? 12 : headerSize == 40 && compression == 6 ? 16 : 0);
            if (start + entries * entrySize > data.Length) throw new InvalidDataException("truncated BMP (palette incomplete)");
            palette = new byte[entries * 3];
            for (int i = 0; i < entries; i++)
            {
                palette[i * 3] = data[start + i * entrySize + 2];
                palette[i * 3 + 1] = data[start + i * entrySize + 1];
                palette[i * 3 + 2] = data[start + i * entrySize];
            }
        }
        if (pixelOffset <= 0 || pixelOffset >= data.Length) throw new InvalidDataException("truncated BMP (no pixel data)");

        // Indices (palette) or RGBA, in file row order first; flipped to top-down at the end.
        var pixels = bpp <= 8 ? new byte[width * height] : new byte[width * height * 4];
        if (compression is 1 or 2) DecodeRle(data.AsSpan((int)pixelOffset), pixels, width, height, bpp);
        else
        {
            long stride = ((long)width * bpp + 31) / 32 * 4;
            if (pixelOffset + stride * (height - 1) + ((long)width * bpp + 7) / 8 > data.Length)
                throw new InvalidDataException("truncated BMP (pixel data ends early)");
            if (bpp == 16 && compression == 0) { rMask = 0x7C00; gMask = 0x03E0; bMask = 0x001F; }
            for (int y = 0; y < height; y++)
            {
                var row = data.AsSpan((int)(pixelOffset + stride * y));
                int o = y * width;
                switch (bpp)
                {
                    case 1 or 4 or 8:
                        for (int x = 0; x < width; x++)
                        {
                            int bit = x * bpp;
                            pixels[o + x] = (byte)((row[bit >> 3] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1));
                        }
                        break;
                    case 24:
                        for (int x = 0; x < width; x++)
                        {
                            pixels[(o + x) * 4] = row[x * 3 + 2];
                            pixels[(o + x) * 4 + 1] = row[x * 3 + 1];
                            pixels[(o + x) * 4 + 2] = row[x * 3];
                            pixels[(o + x) * 4 + 3] = 255;
                        }
                        break;
                    default:
                        for (int x = 0; x < width; x++)
                        {
                            uint v = bpp == 16 ? BinaryPrimitives.ReadUInt16LittleEndian(row[(x * 2)..]) : BinaryPrimitives.ReadUInt32LittleEndian(row[(x * 4)..]);
                            int d = (o + x) * 4;
                            if (bpp == 32 && compression == 0)
                            {
                                pixels[d] = (byte)(v >> 16); pixels[d + 1] = (byte)(v >> 8); pixels[d + 2] = (byte)v; pixels[d + 3] = 255;
                            }
                            else
                            {
                                pixels[d] = Field(v, rMask); pixels[d + 1] = Field(v, gMask); pixels[d + 2] = Field(v, bMask);
                                pixels[d + 3] = aMask == 0 ? (byte)255 : Field(v, aMask);
                            }
                        }
                        break;
                }
            }
        }
        if (!topDown) FlipRows(pixels, width * (bpp <= 8 ? 1 : 4), height);

        if (palette is not null)
        {
            int entries = palette.Length / 3;
            if (keepPaletteIndices) return Raster.Create8(width, height, 1, pixels);
            bool grey = true;
            for (int i = 0; i < entries && grey; i++) grey = palette[i * 3] == palette[i * 3 + 1] && palette[i * 3] == palette[i * 3 + 2];
            var dst = new byte[pixels.Length * (grey ? 1 : 3)];
            for (int i = 0; i < pixels.Length; i++)
            {
                int k = pixels[i];
                if (k >= entries) k = 0; // out-of-range indices show entry 0, as Windows does
                if (grey) dst[i] = palette[k * 3];
                else { dst[i * 3] = palette[k * 3]; dst[i * 3 + 1] = palette[k * 3 + 1]; dst[i * 3 + 2] = palette[k * 3 + 2]; }
            }
            return Raster.Create8(width, height, grey ? 1 : 3, dst);
        }
        // Direct colour: keep alpha only when the file has an alpha mask that is not all zero (a common
        // writer bug leaves it 0, which would make the whole image transparent).
        bool anyNonZero = false, anyTranslucent = false;
        if (aMask != 0)
            for (int i = 3; i < pixels.Length; i += 4) { anyNonZero |= pixels[i] != 0; anyTranslucent |= pixels[i] != 255; }
        bool alpha = anyNonZero && anyTranslucent;
        if (alpha) return Raster.Create8(width, height, 4, pixels);
        var rgb = new byte[width * height * 3];
        for (int i = 0, j = 0; i < pixels.Length; i += 4, j += 3) { rgb[j] = pixels[i]; rgb[j + 1] = pixels[i + 1]; rgb[j + 2] = pixels[i + 2]; }
        return Raster.Create8(width, height, 3, rgb);
    }

    static uint U32(byte[] d, int at) => BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(at));

    /// <summary>Extracts a bit field and scales it to 0..255.</summary>
    static byte Field(uint v, uint mask)
    {
        if (mask == 0) return 0;
        int shift = BitOperations.TrailingZeroCount(mask);
        uint max = mask >> shift;
        return (byte)(((v & mask) >> shift) * 255 / max);
    }

    static void FlipRows(byte[] pixels, int rowBytes, int height)
    {
        var tmp = new byte[rowBytes];
        for (int y = 0; y < height / 2; y++)
        {
            var a = pixels.AsSpan(y * rowBytes, rowBytes);
            var b = pixels.AsSpan((height - 1 - y) * rowBytes, rowBytes);
            a.CopyTo(tmp); b.CopyTo(a); tmp.CopyTo(b);
        }
    }

    /// <summary>RLE8 / RLE4 (BMP compression 1 and 2), rows in file order (bottom-up for positive heights).</summary>
    static void DecodeRle(ReadOnlySpan<byte> src, byte[] dst, int width, int height, int bpp)
    {
        int x = 0, y = 0, i = 0;
        void Put(int v) { if (x < width && y < height) dst[y * width + x] = (byte)v; x++; }
        while (i + 1 < src.Length && y < height)
        {
            int n = src[i], v = src[i + 1];
            i += 2;
            if (n > 0)
            {
                for (int k = 0; k < n; k++) Put(bpp == 8 ? v : (k & 1) == 0 ? v >> 4 : v & 15);
                continue;
            }
            switch (v)
            {
                case 0: x = 0; y++; break;        // end of line
                case 1: return;                   // end of bitmap
                case 2:                           // delta
                    if (i + 1 >= src.Length) throw new InvalidDataException("truncated BMP (RLE data ends early)");
                    x += src[i]; y += src[i + 1]; i += 2;
                    break;
                default:                          // absolute run of v pixels, padded to 16 bits
                    int bytes = bpp == 8 ? v : (v + 1) / 2;
                    if (i + bytes > src.Length) throw new InvalidDataException("truncated BMP (RLE data ends early)");
                    for (int k = 0; k < v; k++) Put(bpp == 8 ? src[i + k] : (k & 1) == 0 ? src[i + k / 2] >> 4 : src[i + k / 2] & 15);
                    i += bytes + (bytes & 1);
                    break;
            }
        }
        if (y < height - 1) throw new InvalidDataException("truncated BMP (RLE data ends early)");
    }
}
