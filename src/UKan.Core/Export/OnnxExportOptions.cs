namespace UKan.Export;

/// <summary>The axes of the exported input: null means dynamic (a symbol in the file, any size at run time).</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Operator set of the default domain; 17 is the first with LayerNormalization.</summary>
    public int Opset { get; init; } = OnnxExporter.DefaultOpset;
    public int? Batch { get; init; }
    public (int Height, int Width)? Size { get; init; }
}
