namespace UKan.Models;

/// <summary>
/// Options of the convolutional baselines (U-Net, Attention U-Net, U-Net++), kept in
/// <see cref="ModelSpec.ArchitectureOptions"/>: the channels of the first stage, doubled at each of the four halvings.
/// </summary>
public sealed record ConvUNetOptions
{
    /// <summary>Channels of the first stage; null: the published width (<see cref="PublishedWidth"/>).</summary>
    public int? Width { get; init; }

    /// <summary>64 for U-Net and Attention U-Net, 32 for U-Net++ (the widths of the reference implementations).</summary>
    public static int PublishedWidth(Architecture architecture) => architecture == Architecture.UNetPlusPlus ? 32 : 64;

    /// <summary>The first-stage width of a convolutional baseline's spec, checked.</summary>
    public static int WidthOf(ModelSpec spec)
    {
        int width = spec.ReadOptions<ConvUNetOptions>().Width ?? PublishedWidth(spec.Architecture);
        // Even: Attention U-Net's gates have width/2 channels.
        if (width < 2 || width > 256 || width % 2 != 0)
            throw new UserError($"--arch-options width {width}: give an even number of channels from 2 to 256 (the published width is {PublishedWidth(spec.Architecture)}).");
        return width;
    }
}
