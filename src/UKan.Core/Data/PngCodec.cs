using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace UKan.Data;

/// <summary>
/// PNG reader and writer (ISO/IEC 15948 / W3C PNG 2nd ed.). Written here rather than taken from StbImageSharp
/// because that library only returns 8-bit samples and masks/microscopy images may be 16-bit.
/// Reads every standard form: grey 1/2/4/8/16 bit, grey+alpha, RGB, RGBA (8/16), palette 1/2/4/8 (with tRNS),
/// non-interlaced and Adam7. Grey below 8 bits is scaled to 0..255 (as libpng's expand does, so a 1-bit mask
/// reads as 0/255); grey+alpha becomes RGBA; palette becomes RGB, or RGBA when tRNS gives transparency.
/// Writes 8- and 16-bit grey, RGB and RGBA, non-interlaced, with the per-row filter chosen by libpng's
/// minimum-sum-of-absolute-differences heuristic.
/// </summary>
static class PngCodec
{
    static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];

    public static bool HasSignature(ReadOnlySpan<byte> data) => data.Length >= 8 && data[..8].SequenceEqual(Signature);

    // ---------------------------------------------------------------- reading

    /// <param name="keepPaletteIndices">For palette images return the raw indices as a grey image (label maps).</param>
    public static Raster Decode(byte[] data, bool keepPaletteIndices = false)
    {
        if (!HasSignature(data)) throw new InvalidDataException("not a PNG file (bad signature)");
        int pos = 8;
        int width = 0, height = 0, depth = 0, colorType = -1, interlace = 0;
        byte[]? palette = null, paletteAlpha = null;
        var idat = new MemoryStream();
        bool sawEnd = false;
        while (!sawEnd)
        {
            if (pos + 8 > data.Length) throw new InvalidDataException("truncated (file ends before the IEND chunk)");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos));
            string type = System.Text.Encoding.ASCII.GetString(data, pos + 4, 4);
            if (length > int.MaxValue || pos + 12L + length > data.Length)
                throw new InvalidDataException($"truncated (chunk {type} runs past the end of the file)");
            var body = data.AsSpan(pos + 8, (int)length);
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(pos + 8 + (int)length));
            bool critical = char.IsUpper(type[0]);
            // Like libpng: a bad CRC is fatal in critical chunks, ignored in ancillary ones.
            if (critical && Crc32.HashToUInt32(data.AsSpan(pos + 4, (int)length + 4)) != crc)
                throw new InvalidDataException($"corrupt (CRC mismatch in chunk {type})");
            pos += 12 + (int)length;
            switch (type)
            {
                case "IHDR":
                    if (length != 13) throw new InvalidDataException("corrupt IHDR chunk");
                    width = checked((int)BinaryPrimitives.ReadUInt32BigEndian(body));
                    height = checked((int)BinaryPrimitives.ReadUInt32BigEndian(body[4..]));
                    depth = body[8]; colorType = body[9]; interlace = body[12];
                    if (body[10] != 0 || body[11] != 0 || interlace > 1) throw new InvalidDataException("unknown compression, filter or interlace method");
                    if (!ValidDepth(colorType, depth)) throw new InvalidDataException($"invalid bit depth {depth} for colour type {colorType}");
                    if (width <= 0 || height <= 0) throw new InvalidDataException($"invalid size {width}x{height}");
                    break;
                case "PLTE": palette = body.ToArray(); break;
                case "tRNS": if (colorType == 3) paletteAlpha = body.ToArray(); break;
                case "IDAT": idat.Write(body); break;
                case "IEND": sawEnd = true; break;
                default:
                    if (critical) throw new InvalidDataException($"unknown critical chunk {type}");
                    break;
            }
            if (colorType < 0) throw new InvalidDataException("the first chunk is not IHDR");
        }
        if (idat.Length == 0) throw new InvalidDataException("no image data (IDAT)");
        if (colorType == 3 && (palette is null || palette.Length % 3 != 0)) throw new InvalidDataException("palette image without a valid PLTE chunk");

        int samplesPerPixel = colorType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, 6 => 4, _ => 0 };
        int bitsPerPixel = samplesPerPixel * depth;
        int filterStride = Math.Max(1, bitsPerPixel / 8);
        var passes = interlace == 1 ? Adam7 : [(0, 0, 1, 1)];
        long expected = 0;
        foreach (var (x0, y0, dx, dy) in passes)
        {
            long pw = (width - x0 + dx - 1) / dx, ph = (height - y0 + dy - 1) / dy;
            if (pw > 0 && ph > 0) expected += ph * (1 + (pw * bitsPerPixel + 7) / 8);
        }
        if (expected > int.MaxValue) throw new InvalidDataException($"image {width}x{height} is too large");
        var raw = Inflate(idat.ToArray(), (int)expected);

        // Unpack to samples at the file's depth (sub-byte grey scaled up, palette kept as indices for now).
        bool sixteen = depth == 16;
        var s8 = sixteen ? null : new byte[(long)width * height * samplesPerPixel];
        var s16 = sixteen ? new ushort[(long)width * height * samplesPerPixel] : null;
        int offset = 0;
        foreach (var (x0, y0, dx, dy) in passes)
        {
            int pw = (width - x0 + dx - 1) / dx, ph = (height - y0 + dy - 1) / dy;
            if (pw <= 0 || ph <= 0) continue;
            int rowBytes = (pw * bitsPerPixel + 7) / 8;
            var prev = new byte[rowBytes];
            var row = new byte[rowBytes];
            for (int r = 0; r < ph; r++)
            {
                byte filter = raw[offset];
                raw.AsSpan(offset + 1, rowBytes).CopyTo(row);
                offset += 1 + rowBytes;
                Unfilter(filter, row, prev, filterStride);
                int y = y0 + r * dy;
                if (sixteen)
                {
                    for (int i = 0; i < pw; i++)
                    {
                        long dst = ((long)y * width + x0 + i * dx) * samplesPerPixel;
                        for (int c = 0; c < samplesPerPixel; c++)
                            s16![dst + c] = BinaryPrimitives.ReadUInt16BigEndian(row.AsSpan((i * samplesPerPixel + c) * 2));
                    }
                }
                else if (depth == 8)
                {
                    if (dx == 1) row.AsSpan(0, pw * samplesPerPixel).CopyTo(s8.AsSpan((int)((long)y * width * samplesPerPixel)));
                    else
                        for (int i = 0; i < pw; i++)
                            row.AsSpan(i * samplesPerPixel, samplesPerPixel).CopyTo(s8.AsSpan((int)(((long)y * width + x0 + i * dx) * samplesPerPixel)));
                }
                else
                {
                    int max = (1 << depth) - 1;
                    bool scale = colorType == 0; // palette indices stay indices
                    for (int i = 0; i < pw; i++)
                    {
                        int bit = i * depth;
                        int v = (row[bit >> 3] >> (8 - depth - (bit & 7))) & max;
                        s8![(long)y * width + x0 + i * dx] = (byte)(scale ? v * 255 / max : v);
                    }
                }
                (prev, row) = (row, prev);
            }
        }

        switch (colorType)
        {
            case 0: return sixteen ? Raster.Create16(width, height, 1, s16) : Raster.Create8(width, height, 1, s8);
            case 2: return sixteen ? Raster.Create16(width, height, 3, s16) : Raster.Create8(width, height, 3, s8);
            case 6: return sixteen ? Raster.Create16(width, height, 4, s16) : Raster.Create8(width, height, 4, s8);
            case 4: return sixteen ? Raster.Create16(width, height, 4, ImageOps.GreyAlphaToRgba(s16!)) : Raster.Create8(width, height, 4, ImageOps.GreyAlphaToRgba(s8!));
            default:
                if (keepPaletteIndices) return Raster.Create8(width, height, 1, s8);
                return ExpandPalette(s8!, width, height, palette!, paletteAlpha);
        }
    }

    static readonly (int, int, int, int)[] Adam7 =
        [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

    static bool ValidDepth(int colorType, int depth) => colorType switch
    {
        0 => depth is 1 or 2 or 4 or 8 or 16,
        3 => depth is 1 or 2 or 4 or 8,
        2 or 4 or 6 => depth is 8 or 16,
        _ => false,
    };

    static byte[] Inflate(byte[] compressed, int expected)
    {
        var result = new byte[expected];
        int got = 0;
        try
        {
            using var z = new ZLibStream(new MemoryStream(compressed), CompressionMode.Decompress);
            while (got < expected)
            {
                int n = z.Read(result, got, expected - got);
                if (n == 0) break;
                got += n;
            }
        }
        catch (InvalidDataException e) { throw new InvalidDataException($"corrupt compressed image data ({e.Message})"); }
        if (got < expected) throw new InvalidDataException($"truncated image data ({got} of {expected} bytes)");
        return result;
    }

    static void Unfilter(byte filter, Span<byte> row, ReadOnlySpan<byte> prev, int bpp)
    {
        switch (filter)
        {
            case 0: break;
            case 1: for (int i = bpp; i < row.Length; i++) row[i] += row[i - bpp]; break;
            case 2: for (int i = 0; i < row.Length; i++) row[i] += prev[i]; break;
            case 3:
                for (int i = 0; i < row.Length; i++)
                    row[i] += (byte)(((i >= bpp ? row[i - bpp] : 0) + prev[i]) >> 1);
                break;
            case 4:
                for (int i = 0; i < row.Length; i++)
                    row[i] += Paeth(i >= bpp ? row[i - bpp] : (byte)0, prev[i], i >= bpp ? prev[i - bpp] : (byte)0);
                break;
            default: throw new InvalidDataException($"corrupt (unknown row filter {filter})");
        }
    }

    static byte Paeth(byte a, byte b, byte c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    static Raster ExpandPalette(byte[] indices, int width, int height, byte[] palette, byte[]? alpha)
    {
        int entries = palette.Length / 3;
        bool hasAlpha = alpha is not null && alpha.Any(a => a != 255);
        int ch = hasAlpha ? 4 : 3;
        var dst = new byte[indices.Length * ch];
        for (int i = 0; i < indices.Length; i++)
        {
            int k = indices[i];
            if (k >= entries) throw new InvalidDataException($"corrupt (palette index {k} beyond the {entries} palette entries)");
            dst[i * ch] = palette[k * 3];
            dst[i * ch + 1] = palette[k * 3 + 1];
            dst[i * ch + 2] = palette[k * 3 + 2];
            if (hasAlpha) dst[i * ch + 3] = k < alpha!.Length ? alpha[k] : (byte)255;
        }
        return Raster.Create8(width, height, ch, dst);
    }

    // ---------------------------------------------------------------- writing

    /// <summary>Encodes losslessly: 8- or 16-bit, grey, RGB or RGBA, as the raster is.</summary>
    public static byte[] Encode(Raster image, CompressionLevel level = CompressionLevel.SmallestSize)
    {
        int ch = image.Channels, bytesPerSample = image.Is16Bit ? 2 : 1;
        int bpp = ch * bytesPerSample, rowBytes = image.Width * bpp;
        var filtered = new byte[(long)image.Height * (rowBytes + 1)];
        var prev = new byte[rowBytes];
        var row = new byte[rowBytes];
        var candidate = new byte[rowBytes];
        var best = new byte[rowBytes];
        for (int y = 0; y < image.Height; y++)
        {
            if (image.Is16Bit)
            {
                var src = image.Pixels16.AsSpan(y * image.Width * ch, image.Width * ch);
                for (int i = 0; i < src.Length; i++) BinaryPrimitives.WriteUInt16BigEndian(row.AsSpan(i * 2), src[i]);
            }
            else image.Pixels8.AsSpan(y * rowBytes, rowBytes).CopyTo(row);

            // libpng's heuristic: the filter whose output has the least sum of |byte as signed|.
            long bestScore = long.MaxValue; byte bestFilter = 0;
            for (byte f = 0; f <= 4; f++)
            {
                long score = Filter(f, row, prev, candidate, bpp);
                if (score < bestScore) { bestScore = score; bestFilter = f; candidate.CopyTo(best, 0); }
            }
            long o = (long)y * (rowBytes + 1);
            filtered[o] = bestFilter;
            best.CopyTo(filtered, o + 1);
            (prev, row) = (row, prev);
        }

        var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, level, leaveOpen: true)) z.Write(filtered);

        var output = new MemoryStream();
        output.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)image.Width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr[4..], (uint)image.Height);
        ihdr[8] = (byte)image.BitDepth;
        ihdr[9] = ch switch { 1 => 0, 3 => 2, _ => 6 };
        ihdr[10] = ihdr[11] = ihdr[12] = 0;
        WriteChunk(output, "IHDR", ihdr);
        WriteChunk(output, "IDAT", compressed.GetBuffer().AsSpan(0, (int)compressed.Length));
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    static long Filter(byte f, ReadOnlySpan<byte> row, ReadOnlySpan<byte> prev, Span<byte> dst, int bpp)
    {
        int n = row.Length;
        switch (f)
        {
            case 0: row.CopyTo(dst); break;
            case 1:
                for (int i = 0; i < bpp; i++) dst[i] = row[i];
                for (int i = bpp; i < n; i++) dst[i] = (byte)(row[i] - row[i - bpp]);
                break;
            case 2: for (int i = 0; i < n; i++) dst[i] = (byte)(row[i] - prev[i]); break;
            case 3:
                for (int i = 0; i < bpp; i++) dst[i] = (byte)(row[i] - (prev[i] >> 1));
                for (int i = bpp; i < n; i++) dst[i] = (byte)(row[i] - ((row[i - bpp] + prev[i]) >> 1));
                break;
            default:
                for (int i = 0; i < bpp; i++) dst[i] = (byte)(row[i] - prev[i]); // Paeth(0, b, 0) = b
                for (int i = bpp; i < n; i++) dst[i] = (byte)(row[i] - Paeth(row[i - bpp], prev[i], prev[i - bpp]));
                break;
        }
        long sum = 0;
        foreach (var v in dst) sum += v < 128 ? v : 256 - v;
        return sum;
    }

    static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> body)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(head, (uint)body.Length);
        System.Text.Encoding.ASCII.GetBytes(type, head[4..]);
        s.Write(head);
        s.Write(body);
        var crc32 = new Crc32();
        crc32.Append(head[4..]);
        crc32.Append(body);
        uint crc = crc32.GetCurrentHashAsUInt32();
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }
}
