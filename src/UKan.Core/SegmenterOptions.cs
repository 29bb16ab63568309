namespace UKan;

/// <summary>How <see cref="Segmenter.Load"/> loads a model; every property has a default.</summary>
public sealed record SegmenterOptions
{
    /// <summary>
    /// Where to compute: <c>"auto"</c> (the default: a GPU when a CUDA libtorch and a GPU are found, else the CPU),
    /// <c>"cpu"</c>, <c>"cuda"</c> or <c>"cuda:N"</c> (GPU N).
    /// </summary>
    public string Device { get; init; } = "auto";

    /// <summary>
    /// The embed dims preset the weights were trained with: <c>"paper"</c>, <c>"large"</c> or <c>"tiny"</c>. Required
    /// for an official PyTorch <c>.pth</c> checkpoint, which does not record its configuration; for our own weights
    /// files it may be left null (a value that contradicts the file is refused).
    /// </summary>
    public string? Preset { get; init; }

    /// <summary>
    /// The architecture: <c>"ukan"</c> (Seg U-KAN), <c>"allukan"</c> or <c>"stacked-kan"</c>. Null: what the weights
    /// file records, or <c>"ukan"</c> for an official <c>.pth</c>.
    /// </summary>
    public string? ModelName { get; init; }

    /// <summary>Probability above which a pixel is foreground (default 0.5, as <c>ukan predict</c>); in (0, 1).</summary>
    public float Threshold { get; init; } = 0.5f;

    /// <summary>
    /// The largest image (width × height) that is decoded; larger ones are refused from their header, before any
    /// pixel buffer is allocated. Null: <see cref="UKan.Data.ImageHeader.MaxPixels"/> (40 megapixels unless changed).
    /// </summary>
    public long? PixelLimit { get; init; }

    /// <summary>Told about problems that do not stop loading (e.g. weights holding NaN); null: ignored.</summary>
    public Action<string>? OnWarning { get; init; }
}
