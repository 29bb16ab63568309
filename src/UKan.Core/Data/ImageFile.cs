using StbImageSharp;
using StbImageWriteSharp;

namespace UKan.Data;

public enum ImageFormat { Unknown, Png, Jpeg, Bmp, Tiff }

/// <summary>
/// Reading and writing image files. The format is taken from the file's first bytes, not its name. PNG, BMP and
/// TIFF are decoded by our own readers (16-bit samples kept; palette indices on request); JPEG by StbImageSharp.
/// Every failure caused by the file (missing, empty, truncated, corrupt, unsupported) is a <see cref="UserError"/>
/// naming the file.
/// </summary>
public static class ImageFile
{
    /// <summary>File name endings (lower case) taken as images when listing dataset folders.</summary>
    public static readonly IReadOnlyList<string> Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"];

    public static bool HasImageExtension(string path) =>
        Extensions.Contains(Path.GetExtension(path).ToLowerInvariant());

    /// <summary>The image files directly in <paramref name="dir"/>, sorted by ordinal name (the same order on every OS).</summary>
    public static List<string> ListImages(string dir) =>
        Directory.GetFiles(dir).Where(HasImageExtension).Order(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The images of a folder that is either a dataset (images/ beside masks/) or a plain folder of images: the
    /// folder actually listed, and its images. <paramref name="option"/> names the option in the not-found message.
    /// </summary>
    public static (string Dir, List<string> Files) ListImagesOf(string folder, string option)
    {
        var dir = Directory.Exists(Path.Combine(folder, "images")) ? Path.Combine(folder, "images") : folder;
        if (!Directory.Exists(dir)) throw new UserError($"{option} {folder}: folder not found.");
        return (dir, ListImages(dir));
    }

    public static ImageFormat DetectFormat(ReadOnlySpan<byte> data) =>
        PngCodec.HasSignature(data) ? ImageFormat.Png
        : data.Length >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF ? ImageFormat.Jpeg
        : BmpCodec.HasSignature(data) ? ImageFormat.Bmp
        : TiffCodec.HasSignature(data) || (data.Length >= 4 && (data[0] == 'I' || data[0] == 'M') && data[1] == data[0]) ? ImageFormat.Tiff
        : ImageFormat.Unknown;

    /// <param name="keepPaletteIndices">For palette PNG/BMP: return the indices as a grey image (label maps such as GlaS annotations).</param>
    /// <param name="maxPixels">The largest image decoded (default: <see cref="ImageHeader.MaxPixels"/>).</param>
    public static Raster Read(string path, bool keepPaletteIndices = false, long? maxPixels = null)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (FileNotFoundException) { throw new UserError($"{path} does not exist; check the path."); }
        catch (DirectoryNotFoundException) { throw new UserError($"{path} does not exist (its folder is missing); check the path."); }
        catch (IOException e) { throw new UserError($"{path} cannot be read ({e.Message}); check the file and its permissions."); }
        catch (UnauthorizedAccessException) { throw new UserError($"{path} cannot be read (permission denied); fix its permissions."); }
        return Decode(bytes, path, keepPaletteIndices, maxPixels);
    }

    /// <summary>
    /// Decodes bytes; <paramref name="name"/> names the source in error messages. An image larger than
    /// <paramref name="maxPixels"/> (default: <see cref="ImageHeader.MaxPixels"/>) is refused from its header, before decoding.
    /// </summary>
    public static Raster Decode(byte[] bytes, string name, bool keepPaletteIndices = false, long? maxPixels = null)
    {
        if (bytes.Length == 0) throw new UserError($"{name} is empty (0 bytes); replace it with a valid image or delete it.");
        var format = DetectFormat(bytes);
        ImageHeader.Check(bytes, format, name, maxPixels);
        try
        {
            return format switch
            {
                ImageFormat.Png => PngCodec.Decode(bytes, keepPaletteIndices),
                ImageFormat.Bmp => BmpCodec.Decode(bytes, keepPaletteIndices),
                ImageFormat.Tiff => TiffCodec.Decode(bytes),
                ImageFormat.Jpeg => DecodeJpeg(bytes),
                _ => throw new InvalidDataException("not a PNG, JPEG, BMP or TIFF file (unknown first bytes)"),
            };
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IndexOutOfRangeException
                                    or ArgumentException or OverflowException or InvalidOperationException)
        {
            var what = e is InvalidDataException ? e.Message : $"corrupt or truncated ({e.GetType().Name}: {e.Message})";
            throw new UserError($"{name} cannot be decoded: {what}; replace the file or re-export it (e.g. as PNG).", e);
        }
    }

    static Raster DecodeJpeg(byte[] bytes)
    {
        // A JPEG ends with the EOI marker; without one the file was cut short. libjpeg would warn and fill the
        // rest with grey; here a damaged training image is an error.
        bool eoi = false;
        for (int i = bytes.Length - 2; i >= Math.Max(0, bytes.Length - 4096) && !eoi; i--) eoi = bytes[i] == 0xFF && bytes[i + 1] == 0xD9;
        if (!eoi) throw new InvalidDataException("truncated JPEG (no end-of-image marker)");
        ImageResult r;
        try { r = ImageResult.FromMemory(bytes, StbImageSharp.ColorComponents.Default); }
        catch (Exception e) when (e is not OutOfMemoryException) { throw new InvalidDataException($"corrupt JPEG ({e.Message})"); }
        int ch = (int)r.Comp;
        return ch switch
        {
            1 or 3 or 4 => Raster.Create8(r.Width, r.Height, ch, r.Data),
            2 => Raster.Create8(r.Width, r.Height, 4, ImageOps.GreyAlphaToRgba(r.Data)),
            _ => throw new InvalidDataException($"unsupported JPEG with {ch} components"),
        };
    }

    /// <summary>Lossless PNG bytes: 8- or 16-bit, grey, RGB or RGBA, as the raster is.</summary>
    public static byte[] EncodePng(Raster image) => PngCodec.Encode(image);

    /// <summary>
    /// JPEG bytes (baseline, by StbImageWriteSharp) of an 8-bit grey or RGB image (alpha dropped, 16-bit scaled).
    /// stb writes 4:2:0 chroma subsampling up to quality 90 and 4:4:4 above, and always three components (grey
    /// images come back as R = G = B).
    /// </summary>
    public static byte[] EncodeJpeg(Raster image, int quality = 90)
    {
        if (quality is < 1 or > 100) throw new UserError($"JPEG quality {quality} is out of range; use 1 to 100.");
        var img = ImageOps.DropAlpha(ImageOps.To8Bit(image));
        using var ms = new MemoryStream();
        new ImageWriter().WriteJpg(img.Pixels8, img.Width, img.Height,
            img.Channels == 1 ? StbImageWriteSharp.ColorComponents.Grey : StbImageWriteSharp.ColorComponents.RedGreenBlue, ms, quality);
        return ms.ToArray();
    }

    /// <summary>Writes a lossless PNG atomically.</summary>
    public static void WritePng(string path, Raster image) => AtomicFile.WriteAllBytes(path, EncodePng(image));

    /// <summary>Writes a JPEG atomically.</summary>
    public static void WriteJpeg(string path, Raster image, int quality = 90) => AtomicFile.WriteAllBytes(path, EncodeJpeg(image, quality));
}
