namespace UKan.Export;

/// <summary>One axis of a graph input or output: a fixed size, or a symbol for a dynamic axis.</summary>
public readonly record struct OnnxDim(long Size, string? Symbol = null)
{
    public static OnnxDim Dynamic(string symbol) => new(0, symbol);
    public override string ToString() => Symbol ?? Size.ToString();
}
