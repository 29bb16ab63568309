namespace UKan;

/// <summary>What a <see cref="Segmenter"/> has loaded and how it prepares images (<see cref="Segmenter.Info"/>).</summary>
/// <param name="Model">The architecture: "ukan", "allukan" or "stacked-kan".</param>
/// <param name="Description">One line naming architecture, preset, embed dims, channels and classes.</param>
/// <param name="Preset">The embed dims preset ("paper", "large", "tiny"), or null for custom dims.</param>
/// <param name="EmbedDims">The channels of the three deep stages.</param>
/// <param name="InChannels">Image channels the network takes (3 colour, 1 grey).</param>
/// <param name="Classes">Output channels; the masks are of the first.</param>
/// <param name="InputHeight">Height every image is resized to before the network.</param>
/// <param name="InputWidth">Width every image is resized to before the network.</param>
/// <param name="Preprocessing">"official" (the reference pipeline: BGR, normalised twice) or "standard" (RGB, once).</param>
/// <param name="ChannelOrder">The order of colour channels fed to the network: "bgr" or "rgb".</param>
/// <param name="Shift">Per channel: network input = (pixel − shift) · scale, pixels 0..255.</param>
/// <param name="Scale">Per channel, see <paramref name="Shift"/>.</param>
/// <param name="Threshold">Probability above which a pixel is foreground.</param>
/// <param name="ParameterCount">Trainable parameters.</param>
/// <param name="Source">Full path of the weights file loaded.</param>
/// <param name="Device">Where it computes: "cpu", "cuda:0", ...</param>
/// <param name="Version">The version of this library.</param>
public sealed record SegmenterInfo(
    string Model,
    string Description,
    string? Preset,
    IReadOnlyList<int> EmbedDims,
    int InChannels,
    int Classes,
    int InputHeight,
    int InputWidth,
    string Preprocessing,
    string ChannelOrder,
    IReadOnlyList<float> Shift,
    IReadOnlyList<float> Scale,
    float Threshold,
    long ParameterCount,
    string Source,
    string Device,
    string Version);
