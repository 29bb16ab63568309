using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// relu(×2 bilinear upsampling) as one autograd node with fused CUDA kernels: every decoder stage of U-KAN
/// (CUHK-AIM-Group/U-KAN @ b20bf63, <c>Seg_UKAN/archs.py</c>: <c>F.relu(F.interpolate(self.decoderN(out),
/// scale_factor=(2,2), mode='bilinear'))</c>) and of UNeXt ends in this pair, which PyTorch runs as the upsampling,
/// ReLU and their two backward kernels (the upsampling's accumulating with atomics). The fused node reads x once and
/// writes y once forward; backward gathers, for each input value, the gradients of the (at most 4 × 4) outputs that
/// read it, so it is deterministic too. It keeps only x for backward and recomputes ReLU's mask from it.
/// </summary>
/// <remarks>
/// Measured on an H200 (U-KAN paper preset, batch 8, CUDA graphs; docs/results.md §2j, the kernels a thread per input
/// value): train step 6.24 against 6.33–6.35 ms with PyTorch's operations at 256², 17.26 against 17.65 ms at 512²;
/// inference 1.64–1.65 against 1.73–1.75 ms at 256²; the eager step's peak 801 against 820 MiB (§2i, the first
/// version). (An earlier version grew that peak by gigabytes,
/// through two leaks of TorchSharp's custom functions now closed for every node: <see cref="HandedBackGradients.Backward(Tensor?)"/>
/// and <see cref="OutputTemplates"/>.) <c>ukan selftest --device cuda</c> compares the kernels with PyTorch's
/// operations whatever the setting, and a CPU test runs the kernel source under an emulation of CUDA's thread model.
/// <see cref="EnvironmentVariable"/>=off turns it off. It is used when the input is a float32 or bfloat16 CUDA tensor
/// dense in NCHW or channels-last and fused kernels are allowed (<see cref="KanFeatures.UseFusedKernels"/>) and built;
/// elsewhere <see cref="BilinearUpsample.Twice"/> then ReLU run as before. Without gradient (inference) the forward
/// kernel runs alone. A bfloat16 input (the convolutions' output under bf16 autocast) is taken as it is: the kernels
/// load bf16, compute in float as for float32 and round each stored value once, so the output and the gradient are
/// bf16 too.
/// </remarks>
public static class UpsampleRelu
{
    /// <summary>Set to <c>off</c> to run relu(×2 upsampling) as PyTorch's operations instead of the fused node (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_FUSED_UPSAMPLE";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    /// <summary>Set to <c>off</c> to add the decoder's skip connection after the fused node instead of in its kernel (a comparison).</summary>
    public const string SkipVariable = "UKAN_FUSED_SKIP";

    static readonly FusedSwitch SkipSwitch = new(SkipVariable);

    /// <summary>Whether the kernel adds the skip (<see cref="SkipVariable"/> is not <c>off</c>).</summary>
    public static bool SkipSwitchedOn => SkipSwitch.On;

    /// <summary>Whether the fused node is switched on (<see cref="EnvironmentVariable"/> is not <c>off</c>).</summary>
    public static bool SwitchedOn => Switch.On;

    /// <summary>relu(up(x)): the fused node where it applies (see the class), else PyTorch's operations.</summary>
    public static Tensor Forward(Tensor x) =>
        KernelsFor(x) is { } kernels
            ? (x.requires_grad && is_grad_enabled() ? Apply(x, kernels) : kernels.UpsampleTwiceRelu(x))
            : BilinearUpsample.Twice(x).relu();

    /// <summary>
    /// relu(up(x)) + <paramref name="skip"/>, a decoder stage with its skip connection (<c>torch.add(out, t4)</c> after
    /// the upsampling in U-KAN and UNeXt): the fused node adds the skip as it writes its output, where the skip is laid
    /// out as that output (<see cref="SkipFits"/>) and <see cref="SkipVariable"/> is not off; else the node (or PyTorch's
    /// operations) and an add.
    /// </summary>
    public static Tensor Forward(Tensor x, Tensor skip)
    {
        if (!SkipSwitch.On || KernelsFor(x) is not { } kernels || !SkipFits(x, skip)) return Forward(x) + skip;
        bool grad = (x.requires_grad || skip.requires_grad) && is_grad_enabled();
        return grad ? Apply(x, skip, kernels) : kernels.UpsampleTwiceRelu(x, skip);
    }

    /// <summary>
    /// Whether <paramref name="skip"/> can be added by the kernels to relu(up(x)): x's dtype and device, the output's
    /// shape (N, C, 2H, 2W) and its dense layout (x's: NCHW or channels-last).
    /// </summary>
    public static bool SkipFits(Tensor x, Tensor skip) =>
        skip.dtype == x.dtype && skip.device_type == x.device_type && skip.device_index == x.device_index
        && TensorLayout.DenseChannelsLast(x) is { } last
        && skip.shape.SequenceEqual([x.shape[0], x.shape[1], 2 * x.shape[2], 2 * x.shape[3]])
        && skip.stride().SequenceEqual(TensorLayout.DenseStrides(x.shape[1], 2 * x.shape[2], 2 * x.shape[3], last));

    /// <summary>
    /// Whether the fused kernels take <paramref name="x"/>: float32 or bfloat16 (N, C, H, W), dense in NCHW or
    /// channels-last (<see cref="TensorLayout.DenseChannelsLast"/>).
    /// </summary>
    public static bool Takes(Tensor x) => KernelStorage.Stores(x.dtype) && TensorLayout.DenseChannelsLast(x) is not null;

    /// <summary>The fused kernels for this input, or null where the fused node does not apply.</summary>
    public static IUpsampleKernels? KernelsFor(Tensor x) => Switch.Applies(x) && Takes(x) ? FusedSwitch.Kernels(x) : null;

    /// <summary>
    /// <paramref name="body"/>'s result with the calling flow taking the fused node or not, whatever the environment
    /// says (comparisons of both in one process).
    /// </summary>
    internal static T With<T>(bool fused, Func<T> body) => Switch.With(fused, body);

    /// <summary>
    /// relu(up(x)) as one autograd node computed by <paramref name="kernels"/>: the CUDA kernels, or
    /// <see cref="Torch.Instance"/> (any device; the reference the tests check against PyTorch's operations).
    /// </summary>
    public static Tensor Apply(Tensor x, IUpsampleKernels kernels) => OutputTemplates.Drop(Function.apply(x, kernels));

    /// <summary>
    /// relu(up(x)) + <paramref name="skip"/> as one autograd node computed by <paramref name="kernels"/> (see
    /// <see cref="Apply(Tensor, IUpsampleKernels)"/>).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor skip, IUpsampleKernels kernels) => OutputTemplates.Drop(SkipFunction.apply(x, skip, kernels));

    /// <summary>The node: saves x (not the four times larger result); backward recomputes ReLU's mask from it.</summary>
    sealed class Function : InputOnlyFunction<Function, IUpsampleKernels>
    {
        public override string Name => "UpsampleTwiceRelu";
        protected override Tensor Forward(IUpsampleKernels kernels, Tensor x) => kernels.UpsampleTwiceRelu(x);
        protected override Tensor Backward(IUpsampleKernels kernels, Tensor x, Tensor grad) => kernels.UpsampleTwiceReluBackward(x, grad);
    }

    /// <summary>
    /// The node with the skip: saves x alone; dL/dskip is dL/dy itself (handed back as a view: TorchSharp disposes the
    /// incoming gradient, <see cref="HandedBackGradients"/>), dL/dx the upsampling node's.
    /// </summary>
    sealed class SkipFunction : autograd.SingleTensorFunction<SkipFunction>
    {
        public override string Name => "UpsampleTwiceReluAdd";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            HandedBackGradients.Release();
            var (x, skip, kernels) = ((Tensor)vars[0], (Tensor)vars[1], (IUpsampleKernels)vars[2]);
            var y = kernels.UpsampleTwiceRelu(x, skip);
            ctx.save_for_backward([x]);
            ctx.save_data("kernels", kernels);
            ctx.save_data("grads", (x.requires_grad, skip.requires_grad));
            OutputTemplates.Forward(ctx);
            return y;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor g)
        {
            using var incoming = HandedBackGradients.Backward(g);
            if (g is null || g.IsInvalid) return [null!, null!, null!];
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (needX, needSkip) = ((bool, bool))ctx.get_data("grads");
            var x = ctx.get_saved_variables()[0];
            var dx = needX ? ((IUpsampleKernels)ctx.get_data("kernels")).UpsampleTwiceReluBackward(x, g) : null;
            return HandedBackGradients.KeepAll([dx!, needSkip ? g.alias() : null!, null!]);
        }
    }

    /// <summary>
    /// The torch formulation of the fused kernels (any device): the reference they are checked against, and which
    /// the tests check against <c>relu(F.interpolate(...))</c> and its autograd gradient. bfloat16 tensors as the
    /// kernels take them: computed in float32, the result rounded once to bfloat16.
    /// </summary>
    public sealed class Torch : IUpsampleKernels
    {
        public static readonly Torch Instance = new();

        public Tensor UpsampleTwiceRelu(Tensor x, Tensor? skip = null)
        {
            using var scope = NewDisposeScope();
            var y = Up(InFloat(x)).relu();
            return (skip is null ? y : y + InFloat(skip)).to(x.dtype).MoveToOuterDisposeScope();
        }

        public Tensor UpsampleTwiceReluBackward(Tensor x, Tensor grad)
        {
            using var scope = NewDisposeScope();
            var relu = InFloat(grad) * Up(InFloat(x)).gt(0);                                     // ReLU's gradient, then the upsampling's
            return BilinearUpsample.Backward(relu).to(x.dtype).MoveToOuterDisposeScope();
        }

        /// <summary>conv2d(relu(up(x)), w, b) in float32, dense NCHW.</summary>
        public Tensor UpsampleTwiceReluConv1x1(Tensor x, Tensor weight, Tensor bias)
        {
            using var scope = NewDisposeScope();
            return F.conv2d(UpsampleTwiceRelu(x), weight, bias).contiguous().MoveToOuterDisposeScope();
        }

        /// <summary>
        /// The head's gradients: dL/d relu(up(x)) = Σ_k w[k, c] dL/dz[k] through the upsampling node's backward for dL/dx
        /// (in x's layout); dL/dw = Σ over the outputs of relu(up(x)) dL/dz; dL/db = Σ dL/dz.
        /// </summary>
        public (Tensor GradX, Tensor GradWeight, Tensor GradBias) UpsampleTwiceReluConv1x1Backward(Tensor x, Tensor weight, Tensor grad)
        {
            using var scope = NewDisposeScope();
            var w = weight.flatten(1);                                                                   // (K, C)
            var gradX = UpsampleTwiceReluBackward(x, einsum("nkhw,kc->nchw", grad, w));
            gradX = TensorLayout.WithStrides(gradX, x.stride());                                         // x's layout
            var gradW = einsum("nkhw,nchw->kc", grad, UpsampleTwiceRelu(x)).view(weight.shape);
            return (gradX.MoveToOuterDisposeScope(), gradW.MoveToOuterDisposeScope(), grad.sum([0, 2, 3]).MoveToOuterDisposeScope());
        }

        static Tensor Up(Tensor x) => F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false);

        /// <summary>
        /// A bfloat16 tensor widened to float32 (the kernels' arithmetic; torch's bf16 operations may round between
        /// steps), others as they are.
        /// </summary>
        static Tensor InFloat(Tensor t) => t.dtype == ScalarType.BFloat16 ? t.to(float32) : t;
    }
}
