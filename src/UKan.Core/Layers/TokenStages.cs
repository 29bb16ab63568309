using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The two ways the tokenized stages of U-KAN and UNeXt run their blocks (same code in both references,
/// CUHK-AIM-Group/U-KAN <c>Seg_UKAN/archs.py</c> and jeya-maria-jose/UNeXt-pytorch <c>archs.py</c>): after a patch
/// embedding (encoder), or on a decoder map as it is (decoder); both end with a LayerNorm and go back to a map, in the
/// input map's layout (channels-last stays channels-last).
/// </summary>
public static class TokenStages
{
    /// <summary>PatchEmbed (stride 2) → blocks → LayerNorm → map at half the resolution.</summary>
    public static Tensor Embedded(PatchEmbed embed, IEnumerable<nn.Module<Tensor, long, long, Tensor>> blocks, LayerNorm norm, Tensor map)
    {
        var (tokens, h, w) = embed.Embed(map);
        foreach (var block in blocks) tokens = block.call(tokens, h, w);
        return TokenMaps.ToMap(FusedLayerNorm.Forward(norm, tokens), h, w, layoutOf: map);
    }

    /// <summary>The map's pixels as tokens → blocks → LayerNorm → map of the same size.</summary>
    public static Tensor InPlace(IEnumerable<nn.Module<Tensor, long, long, Tensor>> blocks, LayerNorm norm, Tensor map)
    {
        long h = map.shape[2], w = map.shape[3];
        var tokens = TokenMaps.ToTokens(map);
        foreach (var block in blocks) tokens = block.call(tokens, h, w);
        return TokenMaps.ToMap(FusedLayerNorm.Forward(norm, tokens), h, w, layoutOf: map);
    }
}
