namespace UKan.Evaluation;

/// <summary>Physical size of a pixel along rows (y) and columns (x); distances (HD95) come out in this unit.</summary>
public readonly record struct PixelSpacing
{
    public PixelSpacing(double row, double column)
    {
        if (!(row > 0 && double.IsFinite(row)) || !(column > 0 && double.IsFinite(column)))
            throw new ArgumentOutOfRangeException(nameof(row), $"pixel spacing must be positive and finite, got ({row}, {column})");
        Row = row;
        Column = column;
    }

    public double Row { get; }
    public double Column { get; }

    /// <summary>Spacing 1 along both axes: distances in pixels (the upstream setting).</summary>
    public static PixelSpacing Unit { get; } = new(1, 1);

    public override string ToString() => $"{Row}x{Column}";
}
