using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// relu(2 × 2 max-pooling, stride 2) as one autograd node with fused CUDA kernels: each of the three encoder stages of
/// U-KAN (CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/archs.py</c>: <c>F.relu(F.max_pool2d(self.encoder1(x), 2, 2))</c>)
/// and of UNeXt ends in this pair, which PyTorch runs as the max-pool (writing an int64 argmax per output for its
/// backward), ReLU and their two backward kernels. The fused node reads x once and writes y once forward; backward
/// recomputes each window's argmax from x and writes the gradient of all four inputs of the window (every input lies
/// in at most one window: no atomics). It keeps only x for backward.
/// </summary>
/// <remarks>
/// The result equals PyTorch's (CUDA and CPU) exactly: the window is scanned row by row and a value taken when greater
/// than the maximum so far or NaN, so ties go to the first maximum and a NaN wins; the gradient reaches that argmax
/// where relu's result is not ≤ 0 (torch's threshold_backward, which passes it for NaN); with an odd H or W the last row
/// or column lies in no window and gets no gradient (floor mode). <c>ukan selftest --device cuda</c> compares the kernels
/// with PyTorch's operations whatever the setting, and a CPU test runs the kernel source under an emulation of CUDA's
/// thread model. <see cref="EnvironmentVariable"/>=off turns it off. It is used when the input is a float32 or bfloat16
/// CUDA tensor dense in NCHW or channels-last, at least 2 × 2, and fused kernels are allowed
/// (<see cref="KanFeatures.UseFusedKernels"/>) and built; elsewhere <c>F.max_pool2d</c> then ReLU run as before. Without
/// gradient (inference) the forward kernel runs alone. A bfloat16 input (the convolutions' output under bf16 autocast)
/// is taken as it is: the kernels load bf16, compare in float (exact, so the tie and NaN rules hold) and store bf16;
/// the output and the gradient are bf16 and still equal PyTorch's exactly (every stored value is a loaded one, or 0).
/// </remarks>
public static class MaxPoolRelu
{
    /// <summary>Set to <c>off</c> to run relu(max-pool) as PyTorch's operations instead of the fused node (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_MAXPOOL";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Whether the fused node is switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>relu(max_pool2d(x, 2, 2)): the fused node where it applies (see the class), else PyTorch's operations.</summary>
    public static Tensor Forward(Tensor x) =>
        KernelsFor(x) is { } kernels
            ? (x.requires_grad && is_grad_enabled() ? Apply(x, kernels) : kernels.MaxPoolTwiceRelu(x))
            : F.max_pool2d(x, 2, 2).relu();

    /// <summary>
    /// Whether the fused kernels take <paramref name="x"/>: float32 or bfloat16 (N, C, H, W) with H, W ≥ 2 (at least one
    /// window), dense in NCHW or channels-last (<see cref="TensorLayout.DenseChannelsLast"/>).
    /// </summary>
    public static bool Takes(Tensor x) =>
        KernelStorage.Stores(x.dtype) && TensorLayout.DenseChannelsLast(x) is not null && x.shape[2] >= 2 && x.shape[3] >= 2;

    /// <summary>The fused kernels for this input, or null where the fused node does not apply.</summary>
    public static IMaxPoolKernels? KernelsFor(Tensor x) => Switch.Applies(x) && Takes(x) ? FusedSwitch.Kernels(x) : null;

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow taking the fused node or not, whatever the environment
    /// says (comparisons of both in one process).
    /// </summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>
    /// relu(max_pool2d(x, 2, 2)) as one autograd node computed by <paramref name="kernels"/>: the CUDA kernels, or
    /// <see cref="Torch.Instance"/> (any device; the reference the tests check against PyTorch's operations).
    /// </summary>
    public static Tensor Apply(Tensor x, IMaxPoolKernels kernels) => OutputTemplates.Drop(Function.apply(x, kernels));

    /// <summary>The node: saves x only (no argmax tensor, no output); backward recomputes the argmax and ReLU's mask.</summary>
    sealed class Function : InputOnlyFunction<Function, IMaxPoolKernels>
    {
        public override string Name => "MaxPoolTwiceRelu";
        protected override Tensor Forward(IMaxPoolKernels kernels, Tensor x) => kernels.MaxPoolTwiceRelu(x);
        protected override Tensor Backward(IMaxPoolKernels kernels, Tensor x, Tensor grad) => kernels.MaxPoolTwiceReluBackward(x, grad);
    }

    /// <summary>
    /// The torch formulation of the fused kernels (any device): PyTorch's max-pool with its argmax, ReLU, and backward
    /// the gradient ReLU passes scattered to the argmaxes. The reference the kernels are checked against, and which the
    /// tests check against <c>relu(F.max_pool2d(...))</c> and its autograd gradient.
    /// </summary>
    public sealed class Torch : IMaxPoolKernels
    {
        public static readonly Torch Instance = new();

        public Tensor MaxPoolTwiceRelu(Tensor x) => F.max_pool2d(x, 2, 2).relu();

        public Tensor MaxPoolTwiceReluBackward(Tensor x, Tensor grad)
        {
            using var scope = NewDisposeScope();
            var (pooled, argmax) = F.max_pool2d_with_indices(x, [2, 2], [2, 2]);
            // threshold_backward on relu's result: zero where it is <= 0 (where the maximum is), the gradient elsewhere.
            var passed = where(pooled.le(0), zeros_like(grad), grad);
            // The argmax is a flat index into the plane (h·W + w); each input is the argmax of at most one window.
            long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
            var dx = zeros([n, c, h * w], dtype: grad.dtype, device: x.device).scatter_(2, argmax.flatten(2), passed.flatten(2));
            return TensorLayout.WithStrides(dx.view(n, c, h, w), x.stride()).MoveToOuterDisposeScope();
        }
    }
}
