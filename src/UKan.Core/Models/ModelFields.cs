namespace UKan.Models;

/// <summary>The fields of a <see cref="ModelSpec"/> a caller stated (<see cref="ModelRequest.Given"/>).</summary>
[Flags]
public enum ModelFields
{
    None = 0,
    Architecture = 1,
    /// <summary>The embed dims, by preset or given.</summary>
    EmbedDims = 2,
    Mixer = 4,
    InChannels = 8,
    Classes = 16,
    ArchitectureOptions = 32,
}
