using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>Normalisation layers with PyTorch's default initialisation.</summary>
public static class Norms
{
    /// <summary>
    /// nn.GroupNorm with weight 1 and bias 0, as PyTorch's reset_parameters leaves them. TorchSharp 0.107's managed
    /// GroupNorm allocates its affine parameters with torch.empty and never initialises them, so a fresh model holds
    /// whatever the allocator returned (NaN in practice; found by DiffusionModelTests.Fresh_models_are_initialised).
    /// </summary>
    public static GroupNorm GroupNorm(int groups, int channels, double eps = 1e-5)
    {
        var norm = nn.GroupNorm(groups, channels, eps);
        using var _ = no_grad();
        norm.weight.fill_(1);
        norm.bias!.zero_();
        return norm;
    }
}
