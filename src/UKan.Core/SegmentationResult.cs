using UKan.Data;
using UKan.Plots;

namespace UKan;

/// <summary>
/// The segmentation of one image by a <see cref="Segmenter"/>, at the image's own size: the foreground probability of
/// every pixel and the binary mask (probability above the threshold). Immutable; safe to share between threads.
/// </summary>
public sealed class SegmentationResult
{
    readonly byte[] mask;
    readonly float[] probabilities;

    internal SegmentationResult(Raster image, float[] probabilities, float threshold)
    {
        Image = image;
        this.probabilities = probabilities;
        Threshold = threshold;
        mask = new byte[probabilities.Length];
        long count = 0;
        for (int i = 0; i < mask.Length; i++)
            if (probabilities[i] > threshold) { mask[i] = 1; count++; }
        ForegroundPixels = count;
    }

    /// <summary>The image as it was given (or decoded), at its own size and channel order.</summary>
    public Raster Image { get; }

    /// <summary>Width of the image, the mask and the probability map.</summary>
    public int Width => Image.Width;

    /// <summary>Height of the image, the mask and the probability map.</summary>
    public int Height => Image.Height;

    /// <summary>The threshold the mask was made with.</summary>
    public float Threshold { get; }

    /// <summary>The binary mask, row-major, top row first: 1 where the probability is above <see cref="Threshold"/>, else 0.</summary>
    public ReadOnlySpan<byte> Mask => mask;

    /// <summary>
    /// The foreground probability of every pixel (sigmoid of the network's first output channel, resized bilinearly
    /// from the network's input size to the image's), row-major, top row first.
    /// </summary>
    public ReadOnlySpan<float> Probabilities => probabilities;

    /// <summary>Pixels in the mask.</summary>
    public long ForegroundPixels { get; }

    /// <summary>Pixels in the mask over all pixels, 0..1.</summary>
    public double ForegroundFraction => (double)ForegroundPixels / mask.Length;

    /// <summary>The mask as an 8-bit grey image: 255 foreground, 0 background (what <c>ukan predict</c> writes).</summary>
    public Raster MaskImage() => Data.Mask.BinaryImage(mask, Width, Height);

    /// <summary>The mask as lossless PNG bytes (see <see cref="MaskImage"/>).</summary>
    public byte[] MaskPng() => ImageFile.EncodePng(MaskImage());

    /// <summary>The probability map as a 16-bit grey image, 0..65535 for 0..1 (what <c>ukan predict --probabilities</c> writes).</summary>
    public Raster ProbabilityImage() =>
        Raster.Create16(Width, Height, 1, probabilities.Select(v => (ushort)Math.Round(Math.Clamp(v, 0f, 1f) * 65535)).ToArray());

    /// <summary>The image in RGB with the mask tinted red (what <c>ukan predict --overlays</c> writes).</summary>
    public Raster Overlay() => Overlays.Tile(ImageOps.ToColor8(Image, ChannelOrder.Rgb), mask, null);

    /// <summary>The overlay as PNG bytes (see <see cref="Overlay"/>).</summary>
    public byte[] OverlayPng() => ImageFile.EncodePng(Overlay());
}
