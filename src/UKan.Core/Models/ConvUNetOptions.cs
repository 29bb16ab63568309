namespace UKan.Models;

/// <summary>
/// Options of the convolutional baselines (U-Net, Attention U-Net, U-Net++), kept in
/// <see cref="ModelSpec.ArchitectureOptions"/>: the channels of the first stage, doubled at each of the four halvings.
/// </summary>
public sealed record ConvUNetOptions
{
    /// <summary>Channels of the first stage; null: the published width (<see cref="PublishedWidth"/>).</summary>
    public int? Width { get; init; }

    /// <summary>
    /// U-Net++ only: four 1×1 heads on X(0, 1)..X(0, 4) (final1..final4) whose mean loss trains it, as the reference's
    /// <c>deep_supervision=True</c>; the last head is the output. Null or false: one head (final), the reference default.
    /// </summary>
    public bool? DeepSupervision { get; init; }

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

    /// <summary>Whether a convolutional baseline's spec asks for deep supervision, which only U-Net++ has.</summary>
    public static bool DeepSupervisionOf(ModelSpec spec)
    {
        bool on = spec.ReadOptions<ConvUNetOptions>().DeepSupervision ?? false;
        if (on && spec.Architecture != Architecture.UNetPlusPlus)
            throw new UserError("--arch-options deep_supervision: only --model unetpp has deep supervision heads; " +
                                $"drop it for --model {ArchitectureNames.Name(spec.Architecture)}.");
        return on;
    }
}
