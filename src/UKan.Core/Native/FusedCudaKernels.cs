using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>
/// The fused CUDA kernels of this toolkit on one device: the KANLinear feature kernels (<see cref="KanFeatureKernels"/>),
/// ALL U-KAN's ψ kernels (<see cref="PsiKernels"/>), batch norm with ReLU (<see cref="BatchNormReluKernels"/>),
/// KANLinear's fused weight (<see cref="KanWeightKernels"/>), the decoders' relu(×2 upsampling) (<see cref="UpsampleKernels"/>),
/// the encoders' relu(2 × 2 max-pooling) (<see cref="MaxPoolKernels"/>), the tokens' LayerNorm (<see cref="LayerNormKernels"/>),
/// inference's bias + ReLU after a folded convolution (<see cref="BiasReluKernels"/>), the 3 × 3 convolutions with few
/// channels (<see cref="SmallConvKernels"/>), the forward and weight gradient of those on 1 to 4 input channels
/// (<see cref="ThinConvKernels"/>), the depthwise 3 × 3 convolution
/// and its gradients (<see cref="DepthwiseConvKernels"/>), the KAN layers' float32 products (<see cref="KanProductKernels"/>) with the timer that chooses their plans (<see cref="GpuTimer"/>), the optimizer's Adam step
/// (<see cref="AdamKernels"/>)
/// the BCE + Dice loss (<see cref="BceDiceKernels"/>) and the training step's running scores (<see cref="StepScoreKernels"/>),
/// compiled as one NVRTC program and loaded by
/// <see cref="CudaKernelModule"/>; each device gets its own module (<see cref="TryLoad"/>).
/// </summary>
public sealed class FusedCudaKernels : IFusedCudaKernels
{
    /// <summary>
    /// The kernels' CUDA source: Native/Kernels/storage.cu (float and bfloat16 storage), kan_features.cu, shared_activation_psi.cu, batch_norm_relu.cu,
    /// kan_weight.cu, upsample_relu.cu, maxpool_relu.cu, bias_relu.cu, adam.cu, bce_dice.cu, step_scores.cu, layer_norm.cu, partial_sums.cu, small_conv.cu, thin_conv.cu, depthwise_conv.cu, kan_product.cu, kan_product_tf32x3.cu and gpu_wait.cu (embedded), one NVRTC program (the ψ kernels use
    /// the cardinal B-spline helpers of the first file; the 3xTF32 products small_conv.cu's TF32 helpers).
    /// </summary>
    public static string Source => source.Value;
    static readonly Lazy<string> source = new(() => string.Join("\n",
        new[] { "storage.cu", "kan_features.cu", "shared_activation_psi.cu", "batch_norm_relu.cu", "kan_weight.cu", "upsample_relu.cu", "maxpool_relu.cu",
            "bias_relu.cu", "adam.cu", "bce_dice.cu", "step_scores.cu", "layer_norm.cu", "partial_sums.cu", "small_conv.cu", "thin_conv.cu", "depthwise_conv.cu", "kan_product.cu", "kan_product_tf32x3.cu", "gpu_wait.cu" }.Select(NativeSources.ReadKernel)));

    readonly CudaKernelModule module;
    readonly KanFeatureKernels features;
    readonly PsiKernels psi;
    readonly BatchNormReluKernels batchNormRelu;
    readonly KanWeightKernels kanWeight;
    readonly UpsampleKernels upsample;
    readonly MaxPoolKernels maxPool;
    readonly BiasReluKernels biasRelu;
    readonly AdamKernels adam;
    readonly BceDiceKernels loss;
    readonly StepScoreKernels scores;
    readonly LayerNormKernels layerNorm;
    readonly SmallConvKernels smallConv;
    readonly ThinConvKernels thinConv;
    readonly DepthwiseConvKernels depthwise;
    readonly KanProductKernels products;
    readonly GpuTimer timer;

    public string Architecture => module.Architecture;
    public int Device => module.Device;
    /// <summary>The cached CUBIN, and whether this process compiled it; Elapsed covers compiling (or reading) and loading.</summary>
    public CacheOutcome? Cache => module.Cache;

    /// <summary>The most bases the ψ kernels take (the size of their per-thread accumulators, less w_b and w_s).</summary>
    public const int MaxPsiBases = PsiKernels.MaxPsiBases;
    int IPsiKernels.MaxPsiBases => MaxPsiBases;

    FusedCudaKernels(CudaKernelModule module) =>
        (this.module, features, psi, batchNormRelu, kanWeight, upsample, maxPool, biasRelu, adam, loss, scores, layerNorm, smallConv, thinConv, depthwise, products, timer) =
            (module, new KanFeatureKernels(module), new PsiKernels(module), new BatchNormReluKernels(module), new KanWeightKernels(module),
            new UpsampleKernels(module), new MaxPoolKernels(module), new BiasReluKernels(module), new AdamKernels(module),
            new BceDiceKernels(module), new StepScoreKernels(module), new LayerNormKernels(module), new SmallConvKernels(module),
            new ThinConvKernels(module), new DepthwiseConvKernels(module), new KanProductKernels(module), new GpuTimer(module));

    /// <summary>
    /// Compiles (or takes from the cache) and loads the kernels into the primary context of device
    /// <paramref name="deviceIndex"/>, or returns null with the reason (no NVRTC, no driver, compile error).
    /// </summary>
    public static FusedCudaKernels? TryLoad(int deviceIndex, out string? problem) =>
        CudaKernelModule.TryLoad(deviceIndex, Source, "kan_features.cu", "kan_kernels", Functions, out problem) is { } module
            ? new FusedCudaKernels(module) : null;

    /// <summary>Every entry the families look up in the program (a name missing from it fails the whole load).</summary>
    public static string[] Functions =>
        [.. KanFeatureKernels.Functions, .. PsiKernels.Functions, .. BatchNormReluKernels.Functions, .. KanWeightKernels.Functions,
         .. UpsampleKernels.Functions, .. MaxPoolKernels.Functions, .. BiasReluKernels.Functions, .. AdamKernels.Functions,
         .. BceDiceKernels.Functions, .. StepScoreKernels.Functions, .. LayerNormKernels.Functions, PartialSums.Function, .. SmallConvKernels.Functions, .. ThinConvKernels.Functions,
         .. DepthwiseConvKernels.Functions, .. KanProductKernels.Functions, GpuTimer.Function];

    public Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots, ScalarType? storage = null) => features.Forward(x, knots, storage);

    public double GpuMilliseconds(Action work) => timer.GpuMilliseconds(work);

    public bool Tf32TensorCores => module.Tf32TensorCores;

    public bool KanProductSupports(Tensor a, Tensor b, KanProductTile tile, int splits) => products.KanProductSupports(a, b, tile, splits);

    public Tensor KanProduct(Tensor a, Tensor b, KanProductTile tile, int splits) => products.KanProduct(a, b, tile, splits);

    public Tensor SumSplits(Tensor partials) => products.SumSplits(partials);

    public bool KanInputGradSupports(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots, bool tensorCores) =>
        products.KanInputGradSupports(gradOutput, weight, x, knots, tensorCores);

    public Tensor KanInputGrad(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots, bool tensorCores) =>
        products.KanInputGrad(gradOutput, weight, x, knots, tensorCores);

    public Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots) => features.BackwardInput(x, gradFeatures, knots);

    public Tensor PsiForward(Tensor u, Tensor coef, Tensor? baseScale, Tensor? splineScale, BSplineBasis.UniformKnots knots) =>
        psi.PsiForward(u, coef, baseScale, splineScale, knots);

    public (Tensor? GradU, Tensor Sums) PsiBackward(Tensor u, Tensor grad, Tensor coef, Tensor? baseScale, Tensor? splineScale,
        BSplineBasis.UniformKnots knots, bool exact, bool inputGrad) =>
        psi.PsiBackward(u, grad, coef, baseScale, splineScale, knots, exact, inputGrad);

    public (Tensor Y, Tensor Mean, Tensor InvStd) BatchNormReluForward(Tensor x, Tensor? weight, Tensor? bias,
        Tensor runningMean, Tensor runningVar, Tensor? batchesTracked, double momentum, double eps, Tensor? runningMeanShift = null,
        Tensor? statistics = null, Tensor? residual = null) =>
        batchNormRelu.BatchNormReluForward(x, weight, bias, runningMean, runningVar, batchesTracked, momentum, eps, runningMeanShift, statistics,
            residual);

    public (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) BatchNormReluBackward(Tensor x, Tensor grad, Tensor mean, Tensor invStd,
        Tensor? weight, Tensor? bias) =>
        batchNormRelu.BatchNormReluBackward(x, grad, mean, invStd, weight, bias);

    public Tensor[] KanWeightForward(IReadOnlyList<KanWeightParts> layers) => kanWeight.KanWeightForward(layers);

    public KanWeightGradients[] KanWeightBackward(IReadOnlyList<Tensor?> grads, IReadOnlyList<KanWeightParts> layers, IReadOnlyList<KanWeightNeeds> needs,
        IReadOnlyList<KanWeightGradients>? into = null) =>
        kanWeight.KanWeightBackward(grads, layers, needs, into);

    public void AccumulateStepScores(Tensor logits, Tensor target, Tensor loss, double smooth, Tensor lastLoss, Tensor lossSum, Tensor iouSum,
        Tensor counts) => scores.AccumulateStepScores(logits, target, loss, smooth, lastLoss, lossSum, iouSum, counts);

    public Tensor UpsampleTwiceRelu(Tensor x, Tensor? skip = null) => upsample.UpsampleTwiceRelu(x, skip);

    public Tensor UpsampleTwiceReluBackward(Tensor x, Tensor grad) => upsample.UpsampleTwiceReluBackward(x, grad);

    /// <inheritdoc/>
    public Tensor UpsampleTwiceReluConv1x1(Tensor x, Tensor weight, Tensor bias) => upsample.UpsampleTwiceReluConv1x1(x, weight, bias);

    /// <inheritdoc/>
    public (Tensor GradX, Tensor GradWeight, Tensor GradBias) UpsampleTwiceReluConv1x1Backward(Tensor x, Tensor weight, Tensor grad) =>
        upsample.UpsampleTwiceReluConv1x1Backward(x, weight, grad);

    public Tensor MaxPoolTwiceRelu(Tensor x) => maxPool.MaxPoolTwiceRelu(x);

    public Tensor MaxPoolTwiceReluBackward(Tensor x, Tensor grad) => maxPool.MaxPoolTwiceReluBackward(x, grad);

    public Tensor BiasReluInPlace(Tensor y, Tensor bias) => biasRelu.BiasReluInPlace(y, bias);

    public void AdamStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? learningRateOnDevice, double learningRate,
        Tensor? stepOnDevice, long step, double beta1, double beta2, double eps, double weightDecay, bool decoupled) =>
        adam.AdamStep(param, grad, expAvg, expAvgSq, learningRateOnDevice, learningRate, stepOnDevice, step, beta1, beta2, eps, weightDecay, decoupled);

    public (Tensor Loss, Tensor Sums) BceDiceForward(Tensor logits, Tensor target, double bceWeight, double smooth) =>
        loss.BceDiceForward(logits, target, bceWeight, smooth);

    public Tensor BceDiceBackward(Tensor logits, Tensor target, Tensor sums, Tensor gradLoss, double bceWeight, double smooth) =>
        loss.BceDiceBackward(logits, target, sums, gradLoss, bceWeight, smooth);

    public (Tensor Y, Tensor Mean, Tensor Rstd) LayerNormForward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor? inputBias = null) =>
        layerNorm.LayerNormForward(x, weight, bias, eps, inputBias);

    public (Tensor GradX, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor x, Tensor grad, Tensor mean, Tensor rstd, Tensor weight,
        Tensor? inputBias = null, Tensor? gradInputBias = null) =>
        layerNorm.LayerNormBackward(x, grad, mean, rstd, weight, inputBias, gradInputBias);

    // 3 × 3 convolutions: depthwise layers (groups = in = out channels) to the depthwise kernels (float32), one-group
    // layers of few channels to the small-convolution kernels (TF32 tensor cores, so only where TF32 is allowed and the
    // GPU has them), and one-group layers on 1 to 4 input channels to the thin kernels (float32, under every precision)
    // but for their input gradient (PyTorch's).
    static bool Depthwise(long inChannels, long outChannels, long groups) => groups > 1 && groups == inChannels && outChannels == inChannels;

    static bool Thin(long inChannels, long outChannels, long groups) => groups == 1 && ThinConvKernels.Supports(inChannels, outChannels);

    public bool Conv3x3Supports(long inChannels, long outChannels, long groups, bool tf32) =>
        Depthwise(inChannels, outChannels, groups) || Thin(inChannels, outChannels, groups)
        || (tf32 && module.Tf32TensorCores && groups == 1 && SmallConvKernels.Supports(inChannels, outChannels));

    public Tensor Conv3x3(Tensor x, Tensor weight, Tensor? bias)
    {
        long groups = x.shape[1] / weight.shape[1];
        if (Thin(x.shape[1], weight.shape[0], groups)) return thinConv.Forward(x, weight, bias);
        if (!Depthwise(x.shape[1], weight.shape[0], groups)) return smallConv.Forward(x, weight, bias);
        var y = depthwise.Forward(x, weight);
        return bias is null ? y : y.add_(bias.view(1, -1, 1, 1));
    }

    public (Tensor Y, Tensor? Statistics) Conv3x3WithStatistics(Tensor x, Tensor weight)
    {
        long groups = x.shape[1] / weight.shape[1];
        if (Thin(x.shape[1], weight.shape[0], groups) || Depthwise(x.shape[1], weight.shape[0], groups)) return (Conv3x3(x, weight, null), null);
        return smallConv.ForwardWithStatistics(x, weight);
    }

    public Tensor Conv3x3BackwardInput(Tensor grad, Tensor weight, long groups) =>
        Depthwise(groups * weight.shape[1], weight.shape[0], groups) ? depthwise.BackwardInput(grad, weight)
        : Thin(weight.shape[1], weight.shape[0], groups) ? FusedConv3x3.Torch.Instance.Conv3x3BackwardInput(grad, weight, groups)
        : smallConv.BackwardInput(grad, weight);

    public Tensor Conv3x3BackwardWeight(Tensor x, Tensor grad, Tensor weight)
    {
        long groups = x.shape[1] / weight.shape[1];
        return Depthwise(x.shape[1], weight.shape[0], groups) ? depthwise.BackwardWeight(x, grad)
            : Thin(x.shape[1], weight.shape[0], groups) ? thinConv.BackwardWeight(x, grad)
            : smallConv.BackwardWeight(x, grad);
    }
}
