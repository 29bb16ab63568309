using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// KANLinear's dL/dx in backward: dL/dF = dL/dy · W (rows × in·(1+K)), then the features' backward (<see cref="KanFeatures"/>).
/// On CUDA, for float32 layers with 8 bases (U-KAN's default grid) and enough tokens to fill the GPU, one kernel does
/// both: dL/dF is formed a tile at a time and reduced by the features' derivatives, never written to memory and read
/// back (at 512², 151 MB each way for the 128-channel decoder block's layers; the replayed step reserves 1.7 GB less
/// there). The product runs on the tensor cores at float32 accuracy (Native/Kernels/kan_product_tf32x3.cu,
/// kan_product_input_grad_tf32x3_9), or with <see cref="SplitReduction.Tf32x3Variable"/>=off on the CUDA cores
/// (kan_product.cu, kan_product_input_grad_9). Elsewhere,
/// or with <see cref="EnvironmentVariable"/>=off (a comparison), the product (<see cref="SplitReduction"/>) and the
/// features' backward kernel run apart.
/// </summary>
public static class KanInputGradient
{
    /// <summary>Set to <c>off</c> to form dL/dF and then reduce it, two steps (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_KAN_INPUT_GRAD";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>dL/dx (rows × in) of KANLinear from dL/dy (rows × out), its fused weight W and its input x.</summary>
    public static Tensor Backward(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots)
    {
        if (Switch.Applies(x) && FusedSwitch.Kernels(x) is IKanProductKernels kernels)
        {
            // The tensor-core kernel where it applies (switched on, out a multiple of 16), else the CUDA-core one.
            foreach (var tensorCores in SplitReduction.Tf32x3On ? new[] { true, false } : [false])
                if (kernels.KanInputGradSupports(gradOutput, weight, x, knots, tensorCores))
                    return kernels.KanInputGrad(gradOutput, weight, x, knots, tensorCores);
        }
        using var gradFeatures = SplitReduction.MatMul(gradOutput, weight);
        return KanFeatures.BackwardInput(x, gradFeatures, knots);
    }

    /// <summary><paramref name="body"/>'s result with the calling flow taking the fused kernel or not, whatever the environment says.</summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);
}
