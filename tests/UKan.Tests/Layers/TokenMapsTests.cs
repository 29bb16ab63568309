using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// Tokens back to a map: the reference's values in either layout, with no copy in channels-last (the layout of our CUDA
/// training, where an NCHW copy made cuDNN convert layouts around the next convolution) and NCHW otherwise, as the
/// reference's <c>.contiguous()</c> gives; and the token stages keep their input map's layout.
/// </summary>
public class TokenMapsTests
{
    [Fact]
    public void To_map_keeps_the_values_and_gives_the_asked_layout()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var tokens = randn(2, 3 * 5, 4);                                      // (B, H·W, C), H = 3, W = 5
        var expected = tokens.reshape(2, 3, 5, 4).permute(0, 3, 1, 2).contiguous();
        var nhwcMap = zeros(2, 3, 5, 4).permute(0, 3, 1, 2);                  // a channels-last map the stage started from
        var last = TokenMaps.ToMap(tokens, 3, 5, layoutOf: nhwcMap);
        var nchw = TokenMaps.ToMap(tokens, 3, 5, layoutOf: zeros(2, 4, 3, 5));
        Assert.False(TensorLayout.DenseChannelsLast(TokenMaps.ToMap(tokens, 3, 5)));
        Assert.True(last.equal(expected).all().item<bool>() && nchw.equal(expected).all().item<bool>());
        Assert.True(TensorLayout.DenseChannelsLast(last));
        Assert.Equal(UKan.Native.TensorPointer.Of(tokens), UKan.Native.TensorPointer.Of(last));   // a view: no copy
        Assert.False(TensorLayout.DenseChannelsLast(nchw));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_token_stage_returns_its_input_maps_layout(bool channelsLast)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var norm = nn.LayerNorm(6);
        var map = randn(2, 6, 4, 4);
        if (channelsLast) map = map.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);   // the same values stored NHWC
        using var noGrad = no_grad();
        var y = TokenStages.InPlace([], norm, map);
        Assert.Equal(channelsLast, TensorLayout.DenseChannelsLast(y));
        var reference = norm.call(map.flatten(2).transpose(1, 2)).reshape(2, 4, 4, 6).permute(0, 3, 1, 2);
        Assert.True(y.allclose(reference));
    }
}
