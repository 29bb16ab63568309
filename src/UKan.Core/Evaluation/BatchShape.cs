namespace UKan.Evaluation;

/// <summary>
/// The layout of a flat batch of binary masks: <see cref="Count"/> images of <see cref="Height"/> × <see cref="Width"/>
/// pixels, row-major, image after image — the memory order of a contiguous (B, 1, H, W) tensor.
/// </summary>
public readonly record struct BatchShape
{
    public BatchShape(int count, int height, int width)
    {
        if (count <= 0 || height <= 0 || width <= 0)
            throw new ArgumentOutOfRangeException(nameof(count), $"batch shape must be positive, got {count}x{height}x{width}");
        if ((long)count * height * width > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(count), $"batch {count}x{height}x{width} is too large for one array");
        Count = count;
        Height = height;
        Width = width;
    }

    public int Count { get; }
    public int Height { get; }
    public int Width { get; }

    public int ImagePixels => Height * Width;
    public int Pixels => Count * Height * Width;

    public override string ToString() => $"{Count}x1x{Height}x{Width}";
}
