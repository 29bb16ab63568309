using StbImageSharp;
using UKan.Data;

namespace UKan.Tests.Data;

public class CodecTests
{
    static void AssertSame(Raster expected, Raster actual)
    {
        Assert.Equal((expected.Width, expected.Height, expected.Channels, expected.BitDepth), (actual.Width, actual.Height, actual.Channels, actual.BitDepth));
        if (expected.Is16Bit) Assert.Equal(expected.Pixels16, actual.Pixels16);
        else Assert.Equal(expected.Pixels8, actual.Pixels8);
    }

    static Raster Decode(byte[] bytes, bool indices = false) => ImageFile.Decode(bytes, "test", indices);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Png8_round_trip(int channels)
    {
        var img = TestFiles.Picture(37, 23, channels);
        AssertSame(img, Decode(ImageFile.EncodePng(img)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Png16_round_trip_keeps_all_bits(int channels)
    {
        var img = TestFiles.Picture16(19, 11, channels);
        var back = Decode(ImageFile.EncodePng(img));
        AssertSame(img, back);
        Assert.Contains(back.Pixels16, v => v % 257 != 0); // really 16-bit values
    }

    [Fact]
    public void Png_encoder_output_reads_the_same_in_an_independent_decoder()
    {
        var img = TestFiles.Picture(41, 17, 3);
        var stb = ImageResult.FromMemory(ImageFile.EncodePng(img), ColorComponents.RedGreenBlue);
        Assert.Equal(img.Pixels8, stb.Data);
    }

    [Fact]
    public void Png_one_bit_grey_reads_as_zero_and_255()
    {
        var png = TestFiles.RawPng(13, 5, 0, 1, (x, y, _) => (x + y) & 1);
        var r = Decode(png);
        Assert.Equal((1, 8), (r.Channels, r.BitDepth));
        Assert.Equal(255, r[1, 0, 0]);
        Assert.Equal(0, r[0, 0, 0]);
        Assert.Equal((0, 255), (r[12, 4, 0], r[11, 4, 0]));
    }

    [Fact]
    public void Png_four_bit_grey_is_scaled()
    {
        var r = Decode(TestFiles.RawPng(5, 3, 0, 4, (x, _, _) => x * 3));
        Assert.Equal([0, 51, 102, 153, 204], Enumerable.Range(0, 5).Select(x => r[x, 1, 0]));
    }

    [Fact]
    public void Png_palette_with_transparency_gives_rgba_and_indices_on_request()
    {
        byte[] palette = [10, 20, 30, 200, 100, 0, 7, 8, 9];
        var png = TestFiles.RawPng(6, 4, 3, 4, (x, y, _) => (x + y) % 3, palette: palette, trns: [255, 128]);
        var rgba = Decode(png);
        Assert.Equal(4, rgba.Channels);
        Assert.Equal([200, 100, 0, 128], Enumerable.Range(0, 4).Select(c => rgba[1, 0, c]));
        Assert.Equal([7, 8, 9, 255], Enumerable.Range(0, 4).Select(c => rgba[2, 0, c]));
        var idx = Decode(png, indices: true);
        Assert.Equal((1, 2), (idx.Channels, idx[2, 0, 0]));
    }

    [Fact]
    public void Png_grey_alpha_becomes_rgba()
    {
        var r = Decode(TestFiles.RawPng(4, 2, 4, 8, (x, y, c) => c == 0 ? x * 50 : 99));
        Assert.Equal(4, r.Channels);
        Assert.Equal([150, 150, 150, 99], Enumerable.Range(0, 4).Select(c => r[3, 1, c]));
    }

    [Theory]
    [InlineData(2, 8)]
    [InlineData(0, 16)]
    [InlineData(0, 2)]
    public void Png_adam7_matches_non_interlaced(int colorType, int depth)
    {
        int Sample(int x, int y, int c) => (x * 7 + y * 13 + c * 5) % (1 << Math.Min(depth, 12));
        var plain = Decode(TestFiles.RawPng(19, 13, colorType, depth, Sample));
        var interlaced = Decode(TestFiles.RawPng(19, 13, colorType, depth, Sample, adam7: true));
        AssertSame(plain, interlaced);
    }

    [Fact]
    public void Jpeg_round_trip_is_close()
    {
        var img = TestFiles.Picture(64, 48, 3);
        var back = Decode(ImageFile.EncodeJpeg(img, 95));
        Assert.Equal((64, 48, 3), (back.Width, back.Height, back.Channels));
        double mad = img.Pixels8.Zip(back.Pixels8, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(mad < 4, $"mean absolute difference {mad}");
        // stb writes grey as a 3-component JPEG with neutral chroma: it reads back as R = G = B (within rounding).
        var grey = Decode(ImageFile.EncodeJpeg(TestFiles.Picture(32, 16, 1), 90));
        Assert.Equal(3, grey.Channels);
        for (int i = 0; i < grey.PixelCount; i++) Assert.InRange(grey.Pixels8[i * 3] - grey.Pixels8[i * 3 + 1], -2, 2);
    }

    [Fact]
    public void Bmp24_bottom_up_and_top_down()
    {
        var img = TestFiles.Picture(13, 7, 3);
        AssertSame(img, Decode(TestFiles.Bmp24(img)));
        AssertSame(img, Decode(TestFiles.Bmp24(img, topDown: true)));
    }

    [Fact]
    public void Bmp8_grey_palette_is_grey_colour_palette_is_rgb_and_indices_on_request()
    {
        var indices = Enumerable.Range(0, 15 * 4).Select(i => (byte)(i % 4)).ToArray();
        var grey = Decode(TestFiles.Bmp8(15, 4, indices));
        Assert.Equal(1, grey.Channels);
        Assert.Equal(indices, grey.Pixels8);

        byte[] palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255];
        var bmp = TestFiles.Bmp8(15, 4, indices, palette);
        var rgb = Decode(bmp);
        Assert.Equal(3, rgb.Channels);
        Assert.Equal([0, 255, 0], Enumerable.Range(0, 3).Select(c => rgb[2, 0, c]));
        Assert.Equal(indices, Decode(bmp, indices: true).Pixels8);
    }

    [Fact]
    public void Bmp_rle8()
    {
        // Bottom row: a run of four 5s; top row: an absolute run 1 2 3 4; then end of bitmap.
        byte[] rle = [4, 5, 0, 0, 0, 4, 1, 2, 3, 4, 0, 1];
        var greyPalette = Enumerable.Range(0, 8).SelectMany(i => new[] { (byte)i, (byte)i, (byte)i, (byte)0 }).ToArray();
        var r = Decode(TestFiles.BmpFile(4, 2, 8, greyPalette, rle, colorsUsed: 8, compression: 1));
        Assert.Equal([1, 2, 3, 4, 5, 5, 5, 5], r.Pixels8);
    }

    [Fact]
    public void Bmp_matches_StbImage()
    {
        var bmp = TestFiles.Bmp24(TestFiles.Picture(21, 9, 3));
        Assert.Equal(ImageResult.FromMemory(bmp, ColorComponents.RedGreenBlue).Data, Decode(bmp).Pixels8);
    }

    [Theory]
    [InlineData(TestFiles.TiffCompression.None, false)]
    [InlineData(TestFiles.TiffCompression.None, true)]
    [InlineData(TestFiles.TiffCompression.PackBits, false)]
    [InlineData(TestFiles.TiffCompression.PackBits, true)]
    [InlineData(TestFiles.TiffCompression.Lzw, false)]
    [InlineData(TestFiles.TiffCompression.Lzw, true)]
    public void Tiff_rgb_and_grey_8_and_16(TestFiles.TiffCompression compression, bool bigEndian)
    {
        foreach (var img in new[] { TestFiles.Picture(29, 17, 3), TestFiles.Picture(29, 17, 1), TestFiles.Picture16(23, 9, 1), TestFiles.Picture16(8, 5, 3) })
            AssertSame(img, Decode(TestFiles.Tiff(img, compression, bigEndian)));
    }

    [Fact]
    public void Tiff_lzw_with_width_changes_and_table_resets()
    {
        // Noise fills the code table (9 -> 12 bits, Clear at 4094) several times; one strip of 60 kB.
        var rng = new Random(5);
        var p = new byte[200 * 100 * 3];
        for (int i = 0; i < p.Length; i++) p[i] = (byte)(rng.Next(4) * 60 + (i % 3));
        var img = Raster.Create8(200, 100, 3, p);
        AssertSame(img, Decode(TestFiles.Tiff(img, TestFiles.TiffCompression.Lzw, rowsPerStrip: 100)));
    }

    [Fact]
    public void Tiff_predictor_planar_and_white_is_zero()
    {
        var img = TestFiles.Picture(31, 10, 3);
        AssertSame(img, Decode(TestFiles.Tiff(img, TestFiles.TiffCompression.Lzw, predictor: true)));
        var img16 = TestFiles.Picture16(12, 6, 1);
        AssertSame(img16, Decode(TestFiles.Tiff(img16, TestFiles.TiffCompression.Lzw, bigEndian: true, predictor: true)));
        AssertSame(img, Decode(TestFiles.Tiff(img, TestFiles.TiffCompression.PackBits, planar: true)));
        var grey = TestFiles.Picture(9, 4, 1);
        var inverted = Decode(TestFiles.Tiff(grey, photometric: 0));
        Assert.Equal(grey.Pixels8.Select(v => (byte)(255 - v)), inverted.Pixels8);
    }

    [Fact]
    public void Tiff_cvc_malformed_min_is_black_with_three_samples_reads_as_rgb()
    {
        var img = TestFiles.Picture(38, 29, 3);
        var r = Decode(TestFiles.Tiff(img, photometric: 1, rowsPerStrip: 16));
        AssertSame(img, r);
    }

    [Fact]
    public void PackBits_and_lzw_decode_what_the_test_encoders_write()
    {
        var rng = new Random(1);
        foreach (var len in new[] { 0, 1, 2, 3, 127, 128, 129, 300, 70000 })
        {
            var data = new byte[len];
            for (int i = 0; i < len; i++) data[i] = (byte)(i % 50 < 20 ? 7 : rng.Next(3));
            Assert.Equal(data, TiffCodec.PackBitsDecode(TestFiles.PackBitsEncode(data), len));
            Assert.Equal(data, TiffCodec.LzwDecode(TestFiles.LzwEncode(data), len));
        }
    }

    public static IEnumerable<TheoryDataRow<string, byte[]>> BadFiles()
    {
        var png = ImageFile.EncodePng(TestFiles.Picture(40, 30, 3));
        var crc = (byte[])png.Clone();
        crc[40] ^= 0x55; // inside IDAT: the CRC no longer matches
        var jpg = ImageFile.EncodeJpeg(TestFiles.Picture(40, 30, 3));
        var tif = TestFiles.Tiff(TestFiles.Picture(40, 30, 3));
        var bmp = TestFiles.Bmp24(TestFiles.Picture(40, 30, 3));
        yield return new("empty.png", []);
        yield return new("truncated.png", png[..(png.Length / 2)]);
        yield return new("crc.png", crc);
        yield return new("truncated.jpg", jpg[..(jpg.Length / 2)]);
        yield return new("garbage.jpg", [0xFF, 0xD8, 0xFF, 1, 2, 3, 4, 5, 0xFF, 0xD9]);
        yield return new("truncated.tif", tif[..(tif.Length / 2)]);
        yield return new("truncated.bmp", bmp[..(bmp.Length / 2)]);
        yield return new("text.png", "hello, this is not an image"u8.ToArray());
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Bad_files_are_user_errors_naming_the_file(string name, byte[] bytes)
    {
        using var dir = new TempDir();
        var path = dir.Write(name, bytes);
        var e = Assert.Throws<UserError>(() => ImageFile.Read(path));
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_missing_file_is_a_user_error()
    {
        var e = Assert.Throws<UserError>(() => ImageFile.Read("/nonexistent/x.png"));
        Assert.Contains("/nonexistent/x.png", e.Message);
    }

    [Fact]
    public void Conversions_to_colour_and_grey()
    {
        var rgb = Raster.Create8(1, 1, 3, [10, 20, 30]);
        Assert.Equal([30, 20, 10], ImageOps.ToColor8(rgb, ChannelOrder.Bgr).Pixels8);
        Assert.Equal([7, 7, 7], ImageOps.ToColor8(Raster.Create8(1, 1, 1, [7]), ChannelOrder.Rgb).Pixels8);
        Assert.Equal([18], ImageOps.ToGray8(rgb).Pixels8); // 0.299*10 + 0.587*20 + 0.114*30 = 18.15
        Assert.Equal([0, 1, 255], ImageOps.To8Bit(Raster.Create16(3, 1, 1, [0, 257, 65535])).Pixels8);
    }

    [Fact]
    public void Resizes_keep_size_and_value_sets()
    {
        var (w, h) = ImageOps.FitWithin(622, 529, 320);
        Assert.Equal((320, 272), (w, h));
        var mask = TestFiles.Disc(60, 40, 30, 20, 12);
        var small = ImageOps.ResizeNearest(mask, 30, 20);
        Assert.All(small.Pixels8, v => Assert.True(v is 0 or 255));
        var flat = Raster.Create8(40, 40, 3, Enumerable.Repeat((byte)77, 40 * 40 * 3).ToArray());
        Assert.All(ImageOps.ResizeArea(flat, 13, 9).Pixels8, v => Assert.Equal(77, v));
    }
}
