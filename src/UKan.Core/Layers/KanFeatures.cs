using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// Computes KANLinear's per-input features [SiLU(x), B_0(x) .. B_{K-1}(x)] for uniform cubic knots, and the
/// gradient of x from the gradient of those features. Two implementations: element-wise torch operations (any
/// device) and fused CUDA kernels compiled at run time (<see cref="UKan.Native.KanCudaKernels"/>), one launch each.
/// </summary>
public static class KanFeatures
{
    static readonly object Gate = new();
    static bool cudaTried;
    static IKanFeatureKernels? cuda;

    /// <summary>Why the fused CUDA kernels are not in use, once they were tried; null when they are.</summary>
    public static string? CudaProblem { get; private set; }

    /// <summary>Whether fused kernels may be used (set false to compare against the torch implementation).</summary>
    public static bool UseFusedKernels { get; set; } = true;

    /// <summary>The fused CUDA kernels, compiled on first use; null where they cannot be built.</summary>
    public static IKanFeatureKernels? CudaKernels(int device)
    {
        lock (Gate)
        {
            if (!cudaTried)
            {
                cudaTried = true;
                cuda = UKan.Native.KanCudaKernels.TryLoad(device, out var problem);
                CudaProblem = problem;
            }
            return cuda;
        }
    }

    static IKanFeatureKernels For(Tensor x) =>
        UseFusedKernels && x.device_type == DeviceType.CUDA && x.dtype == ScalarType.Float32 && CudaKernels(x.device_index < 0 ? 0 : x.device_index) is { } k ? k : Torch.Instance;

    /// <summary>(rows, in) → (rows, in·(1+K)), interleaved per input.</summary>
    public static Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots) => For(x).Forward(x, knots);

    /// <summary>dL/dx (rows, in) from dL/dfeatures (rows, in·(1+K)).</summary>
    public static Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots) => For(x).BackwardInput(x, gradFeatures, knots);

    /// <summary>The element-wise torch implementation (reference for the fused kernels).</summary>
    public sealed class Torch : IKanFeatureKernels
    {
        public static readonly Torch Instance = new();

        public Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots)
        {
            using var scope = NewDisposeScope();
            return cat([BaseActivations.Apply(BaseActivation.SiLU, x).unsqueeze(-1), BSplineBasis.UniformCubic(x, knots)], -1)
                .view(x.shape[0], -1).MoveToOuterDisposeScope();
        }

        public Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots)
        {
            using var scope = NewDisposeScope();
            var g = gradFeatures.view(x.shape[0], x.shape[1], knots.BasisCount + 1);
            var dSilu = BaseActivations.Derivative(BaseActivation.SiLU, x);
            var dBasis = BSplineBasis.UniformCubicDerivative(x, knots);  // (rows, in, K)
            var gx = g.select(-1, 0) * dSilu + (g.narrow(-1, 1, knots.BasisCount) * dBasis).sum(-1);
            return gx.MoveToOuterDisposeScope();
        }
    }
}

public interface IKanFeatureKernels
{
    Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots);
    Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots);
}

/// <summary>
/// y = features(x) · Wᵀ with a memory-lean backward: only x and the fused weight W are kept; the features are
/// recomputed in backward (one fused kernel on CUDA) instead of autograd keeping the basis and every intermediate of
/// its evaluation. Gradients: dW = dyᵀ·features, dfeatures = dy·W, dx from dfeatures (<see cref="KanFeatures"/>).
/// </summary>
/// <remarks>
/// TorchSharp runs backward on autograd's thread, where no dispose scope is active, and hands the returned gradients
/// to libtorch as raw handles, so the managed wrappers would live until the garbage collector finds them, holding their
/// (GPU) memory. Temporaries are therefore disposed by a scope, and the returned gradients once libtorch has taken
/// them: at the start of the next call of this function.
/// </remarks>
public sealed class KanLinearFunction : torch.autograd.SingleTensorFunction<KanLinearFunction>
{
    static readonly System.Collections.Concurrent.ConcurrentQueue<Tensor> handedOver = new();

    public override string Name => nameof(KanLinearFunction);

    static void ReleaseHandedOver()
    {
        while (handedOver.TryDequeue(out var t)) t.Dispose();
    }

    public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
    {
        ReleaseHandedOver();
        var x = (Tensor)vars[0];
        var w = (Tensor)vars[1];
        var knots = (BSplineBasis.UniformKnots)vars[2];
        ctx.save_for_backward([x, w]);
        ctx.save_data("knots", knots);
        using var features = KanFeatures.Forward(x, knots);
        using var wt = w.t();
        return features.matmul(wt);
    }

    public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor gradOutput)
    {
        ReleaseHandedOver();
        Tensor gradX, gradW;
        using (var scope = NewDisposeScope())
        {
            var saved = ctx.get_saved_variables();
            var (x, w) = (saved[0], saved[1]);
            var knots = (BSplineBasis.UniformKnots)ctx.get_data("knots");
            var features = KanFeatures.Forward(x, knots);
            // Under bf16 autocast the forward product ran in bf16, so its gradient arrives in bf16; backward runs
            // outside autocast, in the dtype of x and W.
            if (gradOutput.dtype != x.dtype) gradOutput = gradOutput.to(x.dtype);
            gradW = gradOutput.t().matmul(features).DetachFromDisposeScope();
            var gradFeatures = gradOutput.matmul(w);
            gradX = KanFeatures.BackwardInput(x, gradFeatures, knots).DetachFromDisposeScope();
        }
        handedOver.Enqueue(gradX);
        handedOver.Enqueue(gradW);
        return [gradX, gradW, null!];   // one entry per forward argument; the knots get none
    }
}
