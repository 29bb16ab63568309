namespace UKan.Data;

/// <summary>
/// A decoded image: <see cref="Width"/> x <see cref="Height"/> pixels of 1 (grey), 3 (colour) or 4 (colour +
/// alpha) interleaved samples, row-major, top row first. 8-bit samples live in <see cref="Pixels8"/>, 16-bit
/// samples in <see cref="Pixels16"/> (full 0..65535 range, never scaled on read). Colour samples are in the order
/// the producer says: decoders give RGB(A); <see cref="ImageOps.ToColor8"/> can give BGR.
/// </summary>
public sealed class Raster
{
    /// <summary>Pixels per row.</summary>
    public int Width { get; }
    /// <summary>Rows.</summary>
    public int Height { get; }
    /// <summary>1, 3 or 4.</summary>
    public int Channels { get; }
    /// <summary>8 or 16.</summary>
    public int BitDepth { get; }
    readonly byte[]? pixels8;
    readonly ushort[]? pixels16;

    Raster(int width, int height, int channels, int bitDepth, byte[]? p8, ushort[]? p16)
    {
        if (width <= 0 || height <= 0) throw new ArgumentOutOfRangeException(nameof(width), $"image size {width}x{height} is not positive");
        if (channels is not (1 or 3 or 4)) throw new ArgumentOutOfRangeException(nameof(channels), $"{channels} channels; only 1, 3 or 4 are supported");
        long n = (long)width * height * channels;
        if (n > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(width), $"image {width}x{height}x{channels} is too large");
        Width = width; Height = height; Channels = channels; BitDepth = bitDepth;
        if (p8 is not null && p8.Length != n) throw new ArgumentException($"expected {n} samples, got {p8.Length}");
        if (p16 is not null && p16.Length != n) throw new ArgumentException($"expected {n} samples, got {p16.Length}");
        pixels8 = p8; pixels16 = p16;
    }

    /// <summary>A new 8-bit image; wraps <paramref name="samples"/> when given (no copy), else zeros.</summary>
    public static Raster Create8(int width, int height, int channels, byte[]? samples = null) =>
        new(width, height, channels, 8, samples ?? new byte[checked(width * height * channels)], null);

    /// <summary>A new 16-bit image; wraps <paramref name="samples"/> when given (no copy), else zeros.</summary>
    public static Raster Create16(int width, int height, int channels, ushort[]? samples = null) =>
        new(width, height, channels, 16, null, samples ?? new ushort[checked(width * height * channels)]);

    /// <summary>Whether the samples are 16-bit (<see cref="Pixels16"/>) rather than 8-bit (<see cref="Pixels8"/>).</summary>
    public bool Is16Bit => BitDepth == 16;
    /// <summary>Width × height.</summary>
    public int PixelCount => Width * Height;
    /// <summary>Width × height × channels: the length of the sample array.</summary>
    public int SampleCount => Width * Height * Channels;
    /// <summary>The largest sample value: 255 or 65535.</summary>
    public int MaxValue => Is16Bit ? 65535 : 255;

    /// <summary>The 8-bit samples; throws for a 16-bit image (convert with <see cref="ImageOps.To8Bit"/>).</summary>
    public byte[] Pixels8 => pixels8 ?? throw new InvalidOperationException("this is a 16-bit image; use Pixels16 or ImageOps.To8Bit");

    /// <summary>The 16-bit samples; throws for an 8-bit image.</summary>
    public ushort[] Pixels16 => pixels16 ?? throw new InvalidOperationException("this is an 8-bit image; use Pixels8");

    /// <summary>Sample <paramref name="c"/> of pixel (x, y), whatever the bit depth. Slow; for tests and checks.</summary>
    public int this[int x, int y, int c]
    {
        get
        {
            int i = (y * Width + x) * Channels + c;
            return pixels8 is not null ? pixels8[i] : pixels16![i];
        }
    }

    /// <summary>"W×H, grey|colour|colour+alpha, N-bit", for messages.</summary>
    public string Describe() => $"{Width}x{Height}, {Channels switch { 1 => "grey", 3 => "colour", _ => "colour+alpha" }}, {BitDepth}-bit";

    /// <inheritdoc cref="Describe"/>
    public override string ToString() => Describe();
}

/// <summary>Colour sample order of a 3-channel image: RGB (files, PIL, torchvision) or BGR (OpenCV, hence U-KAN).</summary>
public enum ChannelOrder
{
    /// <summary>Red, green, blue: what the decoders give.</summary>
    Rgb,
    /// <summary>Blue, green, red: what cv2.imread gives, so what the official U-KAN pipeline feeds the network.</summary>
    Bgr,
}
