using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// The layers reach the fused CUDA kernels through <see cref="KanFeatures.CudaLoader"/>, once per device: a CUDA module
/// belongs to one device's context, so the kernels loaded for one GPU must not be handed out for another.
/// </summary>
public class FusedKernelLoaderTests
{
    sealed class FakeKernels(int device) : IFusedCudaKernels
    {
        public int Device => device;
        public string Architecture => "sm_fake";
        public int MaxPsiBases => 16;
        public Tensor Forward(Tensor x, BSplineBasis.UniformKnots knots, ScalarType? storage = null) => throw new NotSupportedException();
        public Tensor BackwardInput(Tensor x, Tensor gradFeatures, BSplineBasis.UniformKnots knots) => throw new NotSupportedException();
        public Tensor PsiForward(Tensor u, Tensor coef, Tensor? baseScale, Tensor? splineScale, BSplineBasis.UniformKnots knots) => throw new NotSupportedException();
        public (Tensor? GradU, Tensor Sums) PsiBackward(Tensor u, Tensor grad, Tensor coef, Tensor? baseScale, Tensor? splineScale,
            BSplineBasis.UniformKnots knots, bool exact, bool inputGrad) => throw new NotSupportedException();
        public (Tensor Y, Tensor Mean, Tensor InvStd) BatchNormReluForward(Tensor x, Tensor? weight, Tensor? bias, Tensor runningMean,
            Tensor runningVar, Tensor? batchesTracked, double momentum, double eps, Tensor? runningMeanShift = null, Tensor? statistics = null,
            Tensor? residual = null) => throw new NotSupportedException();
        public (Tensor GradX, Tensor? GradWeight, Tensor? GradBias) BatchNormReluBackward(Tensor x, Tensor grad, Tensor mean, Tensor invStd,
            Tensor? weight, Tensor? bias) => throw new NotSupportedException();
        public Tensor[] KanWeightForward(IReadOnlyList<KanWeightParts> layers) => throw new NotSupportedException();
        public (Tensor Y, Tensor Mean, Tensor Rstd) LayerNormForward(Tensor x, Tensor weight, Tensor bias, double eps, Tensor? inputBias = null) =>
            throw new NotSupportedException();
        public (Tensor GradX, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor x, Tensor grad, Tensor mean, Tensor rstd, Tensor weight,
            Tensor? inputBias = null, Tensor? gradInputBias = null) =>
            throw new NotSupportedException();
        public KanWeightGradients[] KanWeightBackward(IReadOnlyList<Tensor?> grads, IReadOnlyList<KanWeightParts> layers,
            IReadOnlyList<KanWeightNeeds> needs, IReadOnlyList<KanWeightGradients>? into = null) => throw new NotSupportedException();
        public Tensor UpsampleTwiceRelu(Tensor x, Tensor? skip = null) => throw new NotSupportedException();
        public void AccumulateStepScores(Tensor logits, Tensor target, Tensor loss, double smooth, Tensor lastLoss, Tensor lossSum, Tensor iouSum,
            Tensor counts) => throw new NotSupportedException();
        public Tensor UpsampleTwiceReluBackward(Tensor x, Tensor grad) => throw new NotSupportedException();
        public Tensor UpsampleTwiceReluConv1x1(Tensor x, Tensor weight, Tensor bias) => throw new NotSupportedException();
        public (Tensor GradX, Tensor GradWeight, Tensor GradBias) UpsampleTwiceReluConv1x1Backward(Tensor x, Tensor weight, Tensor grad) =>
            throw new NotSupportedException();
        public Tensor MaxPoolTwiceRelu(Tensor x) => throw new NotSupportedException();
        public Tensor MaxPoolTwiceReluBackward(Tensor x, Tensor grad) => throw new NotSupportedException();
        public Tensor BiasReluInPlace(Tensor y, Tensor bias) => throw new NotSupportedException();
        public bool Conv3x3Supports(long inChannels, long outChannels, long groups, bool tf32) => false;
        public bool Tf32TensorCores => false;
        public bool KanProductSupports(Tensor a, Tensor b, KanProductTile tile, int splits) => false;
        public double GpuMilliseconds(Action work) => throw new NotSupportedException();
        public bool KanInputGradSupports(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots, bool tensorCores) => false;
        public Tensor KanInputGrad(Tensor gradOutput, Tensor weight, Tensor x, BSplineBasis.UniformKnots knots, bool tensorCores) => throw new NotSupportedException();
        public Tensor KanProduct(Tensor a, Tensor b, KanProductTile tile, int splits) => throw new NotSupportedException();
        public Tensor SumSplits(Tensor partials) => throw new NotSupportedException();
        public Tensor Conv3x3(Tensor x, Tensor weight, Tensor? bias) => throw new NotSupportedException();
        public (Tensor Y, Tensor? Statistics) Conv3x3WithStatistics(Tensor x, Tensor weight) => throw new NotSupportedException();
        public Tensor Conv3x3BackwardInput(Tensor grad, Tensor weight, long groups) => throw new NotSupportedException();
        public Tensor Conv3x3BackwardWeight(Tensor x, Tensor grad, Tensor weight) => throw new NotSupportedException();
        public void AdamStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? learningRateOnDevice, double learningRate,
            Tensor? stepOnDevice, long step, double beta1, double beta2, double eps, double weightDecay, bool decoupled) =>
            throw new NotSupportedException();
        public (Tensor Loss, Tensor Sums) BceDiceForward(Tensor logits, Tensor target, double bceWeight, double smooth) =>
            throw new NotSupportedException();
        public Tensor BceDiceBackward(Tensor logits, Tensor target, Tensor sums, Tensor gradLoss, double bceWeight, double smooth) =>
            throw new NotSupportedException();
    }

    [Fact]
    public void Each_device_gets_its_own_kernels_loaded_once()
    {
        _ = TestTorch.Runtime;
        var before = KanFeatures.CudaLoader;
        var loads = new List<int>();
        // Device numbers no machine has, so that the entries cached here can never stand in for real kernels.
        const int first = 1_000_001, second = 1_000_002, broken = 1_000_003;
        KanFeatures.CudaLoader = device =>
        {
            lock (loads) loads.Add(device);
            return device == broken ? (null, "no such device") : (new FakeKernels(device), null);
        };
        try
        {
            var a = KanFeatures.CudaKernels(first);
            var b = KanFeatures.CudaKernels(second);
            Assert.Same(a, KanFeatures.CudaKernels(first));
            Assert.Equal(first, a!.Device);
            Assert.Equal(second, b!.Device);
            Assert.Same(b, KanFeatures.PsiKernels(second));
            Assert.Null(KanFeatures.CudaKernels(broken));
            Assert.Equal("no such device", KanFeatures.CudaProblem);
            Assert.Null(KanFeatures.CudaKernels(broken));
            Assert.Equal([first, second, broken], loads);
        }
        finally { KanFeatures.CudaLoader = before; }
    }
}
