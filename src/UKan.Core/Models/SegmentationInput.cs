using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>The input check every segmentation model runs first.</summary>
public static class SegmentationInput
{
    /// <summary>Throws unless <paramref name="x"/> is (batch, channels, H, W) with H and W multiples of <paramref name="multiple"/>.</summary>
    /// <param name="multiple">2^(number of halvings) of the model.</param>
    public static void Require(Tensor x, int multiple, string model)
    {
        if (x.dim() != 4 || x.shape[2] % multiple != 0 || x.shape[3] % multiple != 0)
            throw new UserError($"input of shape [{string.Join(',', x.shape)}]: {model} needs (batch, channels, H, W) with H and W multiples of {multiple}; resize with --size.");
    }
}
