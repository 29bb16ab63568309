using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Export;

/// <summary>
/// The tokenized stages U-KAN and UNeXt share (<see cref="UKan.Layers.TokenStages"/>), whatever their blocks are:
/// tokens (B, N, C) are made from a map (B, C, H, W) by Reshape(B, C, −1) + Transpose, and turned back by Transpose +
/// Reshape to the shape of the map they came from (read at run time with Shape), so batch, height and width may all be
/// dynamic: tokens.reshape(B, H, W, C).permute(0, 3, 1, 2) is the same tensor as tokens.transpose(1, 2).reshape(B, C, H, W).
/// </summary>
public static class OnnxTokens
{
    /// <summary>Writes a model's blocks on tokens: (tokens, shape of their map) → tokens.</summary>
    public delegate string Blocks(string tokens, string mapShape);

    /// <summary>(B, C, H, W) → (B, H·W, C), as flatten(2).transpose(1, 2).</summary>
    public static string ToTokens(OnnxGraphBuilder g, string map) => g.Transpose(g.Reshape(map, 0, 0, -1), 0, 2, 1);

    /// <summary>(B, H·W, C) → (B, C, H, W) of the given map shape.</summary>
    public static string ToMap(OnnxGraphBuilder g, string tokens, string mapShape) => g.Op("Reshape", [g.Transpose(tokens, 0, 2, 1), mapShape]);

    /// <summary>A patch embedding (proj conv, LayerNorm), the blocks, the stage's LayerNorm, back to a map.</summary>
    public static string Embedded(OnnxGraphBuilder g, nn.Module model, string embedName, string normName, string map, Blocks blocks)
    {
        var embed = OnnxLayers.Child(model, embedName);
        var projected = OnnxLayers.Conv(g, OnnxLayers.Child(embed, "proj"), map, null, embedName + ".proj");
        var shape = g.Op("Shape", [projected]);
        var tokens = OnnxLayers.LayerNorm(g, (LayerNorm)OnnxLayers.Child(embed, "norm"), ToTokens(g, projected), embedName + ".norm");
        tokens = blocks(tokens, shape);
        return ToMap(g, OnnxLayers.LayerNorm(g, (LayerNorm)OnnxLayers.Child(model, normName), tokens, normName), shape);
    }

    /// <summary>The blocks on a map's tokens, the stage's LayerNorm, back to a map of the same shape.</summary>
    public static string InPlace(OnnxGraphBuilder g, nn.Module model, string normName, string map, Blocks blocks)
    {
        var shape = g.Op("Shape", [map]);
        var tokens = blocks(ToTokens(g, map), shape);
        return ToMap(g, OnnxLayers.LayerNorm(g, (LayerNorm)OnnxLayers.Child(model, normName), tokens, normName), shape);
    }
}
