namespace UKan.Data;

/// <summary>
/// An image whose header declares more pixels than the limit (<see cref="ImageHeader.MaxPixels"/> or the caller's):
/// refused before any pixel buffer is allocated, so a small file that claims an enormous size (a decompression bomb)
/// costs nothing.
/// </summary>
public sealed class PixelLimitError(string name, int width, int height, long limit) : UserError(
    $"{name} is {width}x{height} = {(long)width * height:N0} pixels, more than the --max-pixels limit of {limit:N0}; " +
    $"downscale it, or raise the limit (--max-pixels {(long)width * height}) if the memory is there.")
{
    /// <summary>The width the header declares.</summary>
    public int Width { get; } = width;

    /// <summary>The height the header declares.</summary>
    public int Height { get; } = height;

    /// <summary>The limit it exceeds (width × height).</summary>
    public long Limit { get; } = limit;
}
