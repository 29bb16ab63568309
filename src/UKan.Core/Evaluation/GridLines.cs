namespace UKan.Evaluation;

/// <summary>
/// The 1-D lines of a row-major N-D grid along one axis: line <c>i</c> starts at <see cref="Start"/> and its
/// <see cref="Length"/> elements are <see cref="Stride"/> apart. Separable grid algorithms (erosion, distance
/// transform) run one axis at a time over these lines.
/// </summary>
internal readonly record struct GridLines(int Count, int Length, int Stride)
{
    public static GridLines Along(ReadOnlySpan<int> shape, int axis)
    {
        int stride = 1;
        for (int a = axis + 1; a < shape.Length; a++) stride *= shape[a];
        int total = stride * shape[axis];
        for (int a = 0; a < axis; a++) total *= shape[a];
        return new GridLines(total / shape[axis], shape[axis], stride);
    }

    public int Start(int line) => line / Stride * Length * Stride + line % Stride;

    /// <summary>Number of elements of a grid, checking that it is positive and fits one array.</summary>
    public static int Volume(ReadOnlySpan<int> shape)
    {
        if (shape.Length == 0) throw new ArgumentException("a grid needs at least one axis");
        long n = 1;
        foreach (var s in shape)
        {
            if (s <= 0) throw new ArgumentException($"grid axes must be positive, got [{string.Join(", ", shape.ToArray())}]");
            n *= s;
            if (n > Array.MaxLength) throw new ArgumentException("grid too large for one array");
        }
        return (int)n;
    }
}
