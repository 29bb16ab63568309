namespace UKan.Models;

/// <summary>The name of each architecture on the command line (<c>--model</c>), in one place.</summary>
public static class ArchitectureNames
{
    static readonly (Architecture Architecture, string Name)[] Table =
    [
        (Architecture.UKan, "ukan"),
        (Architecture.AllUKan, "allukan"),
        (Architecture.StackedKan, "stacked-kan"),
        (Architecture.UNet, "unet"),
        (Architecture.AttUNet, "attunet"),
        (Architecture.UNetPlusPlus, "unetpp"),
        (Architecture.UNext, "unext"),
    ];

    /// <summary>Every name, in the order above (U-KAN first).</summary>
    public static IReadOnlyList<string> All { get; } = Table.Select(t => t.Name).ToArray();

    public static string Name(Architecture architecture) => Table.First(t => t.Architecture == architecture).Name;

    /// <summary>The architecture a <c>--model</c> value names.</summary>
    public static Architecture Parse(string name) =>
        Table.FirstOrDefault(t => t.Name == name) is { Name: not null } hit ? hit.Architecture
        : throw new UserError($"--model {name}: unknown architecture; use one of {string.Join(", ", All)}.");

    /// <summary>
    /// True for the architectures on U-KAN's skeleton, whose size is set by the embed dims (--preset, --embed-dims):
    /// U-KAN, ALL U-KAN, the stacked KAN and UNeXt. The convolutional U-Nets are sized by a width (<see cref="ConvUNetOptions"/>).
    /// </summary>
    public static bool UsesEmbedDims(Architecture architecture) =>
        architecture is Architecture.UKan or Architecture.AllUKan or Architecture.StackedKan or Architecture.UNext;
}
