using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// Computes KANLinear's per-input features [SiLU(x), B_0(x) .. B_{K-1}(x)] for uniform cubic knots, and the
/// gradient of x from the gradient of those features. Two implementations: element-wise torch operations (any
/// device) and fused CUDA kernels compiled at run time (<see cref="IFusedCudaKernels"/>, from UKan.Native), one launch each.
/// </summary>
public static class KanFeatures
{
    static readonly object Gate = new();
    static readonly Dictionary<int, (IFusedCudaKernels? Kernels, string? Problem)> loaded = [];

    /// <summary>
    /// Compiles and loads the fused kernels into one device's context, or returns null with the reason. Set at start-up
    /// by the runtime (UKan.Native); until then, or where it is not set, the torch implementation is used.
    /// </summary>
    public static Func<int, (IFusedCudaKernels? Kernels, string? Problem)>? CudaLoader { get; set; }

    /// <summary>Why the fused CUDA kernels of the device last asked for are not in use; null when they are.</summary>
    public static string? CudaProblem { get; private set; }

    /// <summary>Whether fused kernels may be used (set false to compare against the torch implementation).</summary>
    public static bool UseFusedKernels { get; set; } = true;

    /// <summary>
    /// The fused CUDA kernels of device <paramref name="device"/>, loaded on first use for that device (a CUDA module
    /// belongs to one device's context, so each device gets its own); null where they cannot be built.
    /// </summary>
    public static IFusedCudaKernels? CudaKernels(int device)
    {
        lock (Gate)
        {
            if (!loaded.TryGetValue(device, out var entry))
            {
                entry = CudaLoader is { } load ? load(device) : (null, "no CUDA kernel loader registered (the runtime was not started)");
                loaded[device] = entry;
            }
            CudaProblem = entry.Problem;
            return entry.Kernels;
        }
    }

    /// <summary>The fused ψ kernels of <paramref name="device"/> (<see cref="SharedActivation"/>); null where they cannot be built.</summary>
    public static IPsiKernels? PsiKernels(int device) => CudaKernels(device);

    static IKanFeatureKernels For(Tensor x) =>
        UseFusedKernels && x.device_type == DeviceType.CUDA && KernelStorage.Stores(x.dtype)
        && CudaKernels(x.device_index < 0 ? 0 : x.device_index) is { } k ? k : Torch.Instance;

    /// <summary>
    /// (rows, in) → (rows, in·(1+K)), interleaved per input, stored as <paramref name="storage"/> (default x's dtype;
    /// bfloat16 for a product in bf16), computed in float32.
    /// </summary>
    public static Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots, ScalarType? storage = null) => For(x).Forward(x, knots, storage);

    /// <summary>dL/dx (rows, in) from dL/dfeatures (rows, in·(1+K)).</summary>
    public static Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots) => For(x).BackwardInput(x, gradFeatures, knots);

    /// <summary>The element-wise torch implementation (reference for the fused kernels).</summary>
    public sealed class Torch : IKanFeatureKernels
    {
        public static readonly Torch Instance = new();

        public Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots, ScalarType? storage = null)
        {
            using var scope = NewDisposeScope();
            var to = storage ?? x.dtype;
            if (x.dtype == ScalarType.BFloat16) x = x.to(float32);   // as the kernels: float arithmetic, one rounding at the store
            return cat([BaseActivations.Apply(BaseActivation.SiLU, x).unsqueeze(-1), BSplineBasis.UniformCubic(x, knots)], -1)
                .view(x.shape[0], -1).to(to).MoveToOuterDisposeScope();
        }

        public Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots)
        {
            using var scope = NewDisposeScope();
            var storage = x.dtype;
            if (x.dtype == ScalarType.BFloat16) x = x.to(float32);
            if (gradFeatures.dtype == ScalarType.BFloat16) gradFeatures = gradFeatures.to(float32);
            var g = gradFeatures.view(x.shape[0], x.shape[1], knots.BasisCount + 1);
            var dSilu = BaseActivations.Derivative(BaseActivation.SiLU, x);
            var dBasis = BSplineBasis.UniformCubicDerivative(x, knots);  // (rows, in, K)
            var gx = g.select(-1, 0) * dSilu + (g.narrow(-1, 1, knots.BasisCount) * dBasis).sum(-1);
            return gx.to(storage).MoveToOuterDisposeScope();
        }
    }
}
