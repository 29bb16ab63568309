using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>
/// The argument checks shared by the one-group 3 × 3 convolution launchers (<see cref="SmallConvKernels"/>,
/// <see cref="ThinConvKernels"/>): float32 channels-last maps, a float32 (Cout, Cin, 3, 3) weight in the kernels' order
/// (o, kh, kw, i), a float32 bias of Cout values. Each takes the family's name for its messages.
/// </summary>
internal static class Conv3x3Arguments
{
    /// <summary>(N, C, H, W) of <paramref name="x"/>, which must be a float32 4-D tensor dense in channels-last.</summary>
    public static (long N, long C, long H, long W) Map(Tensor x, string kernels, string what)
    {
        if (x.dtype != ScalarType.Float32 || x.dim() != 4 || !TensorLayout.IsChannelsLastDense(x))
            throw new ArgumentException($"{kernels}: {what} must be a float32 (N, C, H, W) tensor dense in channels-last");
        return (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
    }

    /// <summary>The weight (Cout, Cin, 3, 3) laid out (o, kh, kw, i): itself when so, else a copy; <paramref name="supported"/> whether the family has the shape.</summary>
    public static Tensor Weight(Tensor weight, long cout, long cin, bool supported, string kernels)
    {
        if (weight.dtype != ScalarType.Float32 || !weight.shape.SequenceEqual([cout, cin, 3, 3]) || !supported)
            throw new ArgumentException($"{kernels}: the weight must be float32 ({cout}, {cin}, 3, 3) of a supported shape");
        return TensorLayout.WithStrides(weight, TensorLayout.DenseStrides(cin, 3, 3, true));
    }

    /// <summary>Throws unless <paramref name="bias"/> is null or float32 with <paramref name="cout"/> values.</summary>
    public static void Bias(Tensor? bias, long cout, string kernels)
    {
        if (bias is not null && (bias.dtype != ScalarType.Float32 || bias.numel() != cout))
            throw new ArgumentException($"{kernels}: the bias must be float32 with one value per output channel");
    }
}
