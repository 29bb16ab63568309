namespace UKan.Layers;

/// <summary>
/// A block that applies a BatchNorm2d right after a convolution and can run both as one convolution for inference
/// (see <see cref="BatchNormFold"/>).
/// </summary>
public interface IBatchNormFoldable
{
    /// <summary>
    /// Adds the folded path (from the current weights and running statistics) and makes the forward take it; the
    /// original layers, and so the state dict, are left as they are. Returns the number of (conv, BN) pairs folded:
    /// a convolution that is not a plain nn.Conv2d (ALL U-KAN's KAN convolutions) keeps its BN.
    /// </summary>
    int FoldBatchNorm();
}
