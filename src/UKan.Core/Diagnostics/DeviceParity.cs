using TorchSharp;
using UKan.Layers;
using UKan.Losses;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Diagnostics;

/// <summary>One comparison: the largest absolute and relative (‖a−b‖/‖b‖) differences and the bound it must meet.</summary>
public sealed record ParityCheck(string Name, double MaxAbs, double RelativeNorm, double Bound)
{
    public bool Passed => RelativeNorm <= Bound && !double.IsNaN(RelativeNorm);
}

/// <summary>
/// Checks on the compute device what the CPU tests prove against the official fixtures: the fused CUDA kernels equal
/// the torch formulation, the fast KANLinear equals the Cox–de Boor layer, the whole model on the GPU equals the CPU
/// (whose parity with the official outputs the test suite asserts), and CUDA-graph training equals eager training.
/// Bounds are relative norms per precision: strict fp32 1e-5, TF32 convolutions 5e-3.
/// </summary>
public static class DeviceParity
{
    public static IReadOnlyList<ParityCheck> Run(Device device)
    {
        var checks = new List<ParityCheck>();
        manual_seed(0);

        // 1. Fused features vs the element-wise torch implementation: U-KAN's grid (5 intervals, K = 8 bases) and a
        // finer one (K = 13, an even tile stride), on a count of inputs that leaves the last block partly empty.
        foreach (var (grid, rows, cols) in new[] { (5, 4096, 64), (10, 1023, 37) })
        {
            var knots = BSplineBasis.TryUniform(BSplineBasis.MakeKnots(grid, 3, -1, 1), 3)!.Value;
            var x = (randn(rows, cols) * 1.7).to(device);
            var fused = KanFeatures.Forward(x, knots);
            var reference = KanFeatures.Torch.Instance.Forward(x, knots);
            checks.Add(Compare($"KAN features (K = {knots.BasisCount}): fused kernel vs torch", fused, reference, 1e-6));
            var g = randn_like(reference);
            checks.Add(Compare($"KAN features backward (K = {knots.BasisCount}): fused kernel vs torch", KanFeatures.BackwardInput(x, g, knots),
                KanFeatures.Torch.Instance.BackwardInput(x, g, knots), 1e-6));
        }

        // 1a. The same kernels storing bfloat16 (bf16 autocast): against the torch formulation, float arithmetic on the
        // same bf16 values, rounded once.
        if (device.type == DeviceType.CUDA)
            checks.AddRange(Guarded("bf16 storage", () => Bf16StorageVersusTorch(device)));

        // 1b. ALL U-KAN's ψ: fused kernels vs the torch formulation, on a channels-last view (as KAonv sees tokens).
        if (device.type == DeviceType.CUDA)
            foreach (var gradient in new[] { SplineGradient.GradFree, SplineGradient.ExactRecompute })
                checks.AddRange(Guarded($"ψ {gradient}", () => PsiFusedVersusTorch(gradient, device)));

        // 1c. Batch norm + ReLU in training: the fused kernels vs BatchNorm2d then ReLU, and vs their torch formulation.
        if (device.type == DeviceType.CUDA)
        {
            checks.AddRange(Guarded("batch norm + ReLU", () => BatchNormReluFusedVersusModules(device)));
            checks.AddRange(Guarded("convolution + batch norm + ReLU, bias left out", () => DroppedBiasVersusOfficial(device)));
        }

        // 1d. KANLinear's fused weight: the kernels vs the torch formulation (weight and the three gradients).
        if (device.type == DeviceType.CUDA)
            checks.AddRange(Guarded("KAN fused weight", () => KanWeightFusedVersusTorch(device)));

        // 1e. The decoders' relu(×2 bilinear upsampling): fused kernels vs PyTorch's, NCHW and channels-last, odd sizes.
        if (device.type == DeviceType.CUDA)
            foreach (bool channelsLast in new[] { false, true })
                checks.AddRange(Guarded($"relu(×2 upsampling), channels-last {channelsLast}", () => UpsampleFusedVersusTorch(channelsLast, device)));
        // 1e'. The last upsampling with the 1 × 1 head as one node: 1 to 4 classes, 4 to 64 channels, odd sizes.
        if (device.type == DeviceType.CUDA)
            foreach (var (channels, classes) in new[] { (16, 1), (4, 3), (32, 4), (64, 2) })
                checks.AddRange(Guarded($"relu(×2 upsampling) + 1 × 1 head, {channels} channels, {classes} classes",
                    () => UpsampleHeadFusedVersusTorch(channels, classes, device)));

        // 1e''. The training step's running scores: the fused kernel vs PyTorch's operations, two steps.
        if (device.type == DeviceType.CUDA)
            checks.AddRange(Guarded("training step scores", () => StepScoresFusedVersusTorch(device)));

        // 1f. The optimizer's Adam step: the fused kernel vs the torch formulation, Adam and AdamW, three steps.
        if (device.type == DeviceType.CUDA)
            checks.AddRange(Guarded("Adam step", () => AdamFusedVersusTorch(device)));

        // 1g. The BCE + Dice loss: the fused node vs the module's formula, loss and gradient, three shapes and layouts.
        if (device.type == DeviceType.CUDA)
            checks.AddRange(Guarded("BCE + Dice loss", () => LossFusedVersusModule(device)));

        // 1h. The encoders' relu(2 × 2 max-pooling): fused kernels vs PyTorch's, both layouts, odd sizes, ties and NaN.
        if (device.type == DeviceType.CUDA)
            foreach (bool channelsLast in new[] { false, true })
                checks.AddRange(Guarded($"relu(2 × 2 max-pool), channels-last {channelsLast}", () => MaxPoolFusedVersusTorch(channelsLast, device)));

        // 1i. The same two nodes on bf16 maps (bf16 autocast): their bfloat16 entries against the float32 formulation on
        // the same values (upsampling: rounded once; max-pool: exactly, ties and NaN included).
        if (device.type == DeviceType.CUDA)
            foreach (bool channelsLast in new[] { false, true })
            {
                checks.AddRange(Guarded($"bf16 relu(×2 upsampling), channels-last {channelsLast}",
                    () => UpsampleBf16VersusTorch(channelsLast, device)));
                checks.AddRange(Guarded($"bf16 relu(2 × 2 max-pool), channels-last {channelsLast}",
                    () => MaxPoolFusedVersusTorch(channelsLast, device, ScalarType.BFloat16)));
            }

        // 1j. The tokens' LayerNorm: fused kernels vs the module (float32) and vs the torch formulation (bf16 tokens).
        if (device.type == DeviceType.CUDA)
            checks.AddRange(Guarded("LayerNorm", () => LayerNormFusedVersusModule(device)));
        // 1k. Inference's bias + ReLU after a folded convolution: the in-place kernel vs its torch formulation, both
        // layouts, float32 and bf16, vector and scalar paths, NaN; the folded tiny U-KAN with the kernel vs without.
        if (device.type == DeviceType.CUDA)
            foreach (bool channelsLast in new[] { false, true })
                checks.AddRange(Guarded($"bias + ReLU, channels-last {channelsLast}", () => BiasReluFusedVersusTorch(channelsLast, device)));

        // 1l. The 3 × 3 convolutions with few channels and the depthwise ones: kernels vs PyTorch's in float64.
        if (device.type == DeviceType.CUDA)
            checks.AddRange(Guarded("3 × 3 convolutions", () => Conv3x3FusedVersusTorch(device)));

        // 2. Fast KANLinear vs the Cox–de Boor layer, strict fp32.
        PrecisionSettings.Apply(Precision.Fp32Strict);
        var layer = new KanLinear(64, 48);
        layer.to(device);
        var xi = (randn(4096, 64) * 1.7).to(device).requires_grad_(true);
        layer.Path = KanPath.Fast;
        var yFast = layer.call(xi);
        var gFast = torch.autograd.grad([yFast.pow(2).sum()], [xi, layer.SplineWeight]);
        layer.Path = KanPath.General;
        var yGen = layer.call(xi);
        var gGen = torch.autograd.grad([yGen.pow(2).sum()], [xi, layer.SplineWeight]);
        checks.Add(Compare("KANLinear fast vs general: output", yFast, yGen, 1e-5));
        checks.Add(Compare("KANLinear fast vs general: dx", gFast[0], gGen[0], 1e-5));
        checks.Add(Compare("KANLinear fast vs general: dspline_weight", gFast[1], gGen[1], 1e-5));

        // 3. The model on the device vs on the CPU, same weights and inputs: U-KAN in both precisions, the other
        //    architectures in strict fp32. A device error (e.g. a failing cuDNN kernel) is reported as a failed check.
        var tiny = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" };
        foreach (var (spec, precision) in new[]
                 {
                     (tiny, Precision.Fp32Strict), (tiny, Precision.Fp32),
                     (tiny with { Architecture = Architecture.AllUKan }, Precision.Fp32Strict),
                     (tiny with { Architecture = Architecture.StackedKan }, Precision.Fp32Strict),
                     (tiny with { Architecture = Architecture.UNext }, Precision.Fp32Strict),
                     (Narrow(Architecture.UNet), Precision.Fp32Strict),
                     (Narrow(Architecture.AttUNet), Precision.Fp32Strict),
                     (Narrow(Architecture.UNetPlusPlus), Precision.Fp32Strict),
                 })
            checks.AddRange(Guarded($"{spec.Architecture} on the device", () => ModelVersusCpu(spec, precision, device)));
        PrecisionSettings.Apply(Precision.Fp32Strict);
        checks.AddRange(Guarded("Diffusion U-KAN sampling on the device", () => [SamplingVersusCpu(device)]));

        // 4. CUDA-graph training steps vs eager steps.
        if (device.type == DeviceType.CUDA && UKan.Native.TorchCudaShim.Available)
        {
            PrecisionSettings.Apply(Precision.Fp32Strict);
            checks.Add(GraphVersusEager(device));
            checks.Add(ChannelsLastVersusNchw(device));
            checks.Add(GatherVersusAccumulate(device));
            checks.AddRange(TrainingFusedVersusNot(device,
                ("fused batch norm + ReLU vs the two modules", BatchNormRelu.With),
                ("fused relu(×2 upsampling) vs PyTorch's operations", UpsampleRelu.With),
                ("fused upsampling + 1 × 1 head vs the upsampling node and the head", UpsampleReluHead.With),
                ("fused relu(2 × 2 max-pool) vs PyTorch's operations", MaxPoolRelu.With),
                ("fused LayerNorm vs the module", FusedLayerNorm.With)));
            // In TF32 (the few-channel kernels' precision; cuDNN then runs TF32 too): the tiny model's 8 → 8 and depthwise layers.
            PrecisionSettings.Apply(Precision.Fp32);
            checks.Add(TrainingFusedVersusNot("3 × 3 convolution kernels vs cuDNN (TF32)", FusedConv3x3.With, device));
            checks.Add(TrainingFusedVersusNot("batch statistics from the convolution kernels vs the batch norm's pass (TF32)",
                FusedConv3x3.WithStatistics, device));
            checks.AddRange(Guarded("statistics from the convolution", () => StatisticsFromConvolution(device)));
            PrecisionSettings.Apply(Precision.Fp32Strict);
            checks.Add(TrainingFusedVersusNot("KAN products split along their reduction vs single products", SplitReduction.With, device));
            checks.Add(SplitProductVersusSingle(device));
            checks.AddRange(Guarded("KAN product kernels", () => KanProductKernelsVersusFloat64(device)));
            checks.AddRange(Guarded("KAN dL/dx in one kernel", () => KanInputGradVersusFloat64(device)));
            checks.AddRange(TrainingFusedVersusNot(device,
                ("KAN dL/dx in one kernel vs dL/dF then the features' backward", KanInputGradient.With),
                ("KAN products with our kernels among the plans vs cuBLAS's only", SplitReduction.WithKernels),
                ("KANLinear weights in one launch vs one per layer", KanWeightBatch.With),
                ("KAN weight gradients written into the flat buffer vs gathered", FlatAdam.WithDirectGradients),
                ("patch embedding's bias added by the LayerNorm vs by the convolution", FusedLayerNorm.WithBiasBefore),
                ("KAN blocks' residual added by the batch norm + ReLU node vs after it", BatchNormRelu.WithResidual),
                ("split KAN products added by our merge vs torch's sum", SplitReduction.WithMerge)));
            PrecisionSettings.Apply(Precision.Fp32Strict);
            foreach (var arch in new[] { Architecture.UKan, Architecture.AllUKan })
                checks.AddRange(Guarded($"{arch} bf16", () => Bf16VersusFp32(tiny with { Architecture = arch }, device)));
            checks.AddRange(Guarded("folded U-KAN, fused bias + ReLU", () => FoldedFusedVersusNot(tiny, device)));
        }
        PrecisionSettings.Apply(Precision.Fp32);
        return checks;
    }

    /// <summary>A convolutional baseline at width 8, small enough for the CPU side of the comparison.</summary>
    static ModelSpec Narrow(Architecture architecture) =>
        new ModelSpec { Architecture = architecture }.WithOptions(new ConvUNetOptions { Width = 8 });

    static IEnumerable<ParityCheck> ModelVersusCpu(ModelSpec spec, Precision precision, Device device)
    {
        PrecisionSettings.Apply(precision);
        manual_seed(1);
        var cpuModel = ModelFactory.Create(spec);
        var devModel = ModelFactory.Create(spec);
        UKan.Checkpoints.StateDictLoader.Copy(cpuModel, devModel);
        devModel.to(device);
        var input = randn(2, 3, 64, 64);
        var target = (rand(2, 1, 64, 64) > 0.7).to(float32);
        var (yc, lc, gc) = TrainForward(cpuModel, input, target);
        var (yd, ld, gd) = TrainForward(devModel, input.to(device), target.to(device));
        var tag = $"{spec.Architecture} {Describe(precision)}";
        // Attention U-Net's gates pass a one-channel map through BatchNorm in training mode: dividing by the batch's
        // small spread amplifies the order of float sums, and its logits differed by 1.9e-5 (relative norm) between an
        // H200 and the CPU in strict fp32 while loss and gradients agreed to 1e-5 (selftest, 2026-11-30); 5× the bound.
        var logitsBound = OutputBound(precision) * (spec.Architecture == Architecture.AttUNet ? 5 : 1);
        yield return Compare($"{tag}: logits", yd, yc, logitsBound);
        yield return Compare($"{tag}: loss", ld, lc, OutputBound(precision));
        yield return Compare($"{tag}: gradients", gd, gc, GradientBound(precision));
    }

    /// <summary>Relative-norm bound of a model's outputs and loss: strict fp32 1e-5; TF32 convolutions 5e-3.</summary>
    public static double OutputBound(Precision precision) => precision == Precision.Fp32Strict ? 1e-5 : 5e-3;

    /// <summary>
    /// Relative-norm bound of a model's gradients. Gradients of the early layers sum over the whole network; cuDNN's and
    /// the CPU's different summation orders leave ~1e-3 relative differences even in strict fp32 (measured on an H100:
    /// 9.3e-4). TF32 rounds convolution operands to 10 mantissa bits; through the backward pass of a freshly
    /// initialised network that leaves relative gradient differences of ~1e-1 (measured on an H100: 8.4e-2).
    /// </summary>
    public static double GradientBound(Precision precision) => precision == Precision.Fp32Strict ? 5e-3 : 1.5e-1;

    public static string Describe(Precision precision) => precision == Precision.Fp32Strict ? "fp32-strict" : "fp32 (TF32 convolutions)";

    /// <summary>Two DDIM steps of a fresh Diffusion U-KAN from the same seed on the device and on the CPU.</summary>
    static IEnumerable<ParityCheck> PsiFusedVersusTorch(SplineGradient gradient, Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var psi = new SharedActivation(new SharedActivationOptions { Gradient = gradient });
        using (no_grad())
        {
            psi.Coefficients.copy_(randn(psi.BasisCount) * 0.3);
            psi.BaseScale!.fill_(0.7);
            psi.SplineScale!.fill_(1.3);
        }
        psi.to(device);
        var u = (randn(4, 12, 12, 40) * 1.6).to(device).permute(0, 3, 1, 2).requires_grad_(true);
        var weight = randn(4, 40, 12, 12).to(device);
        (Tensor Y, Tensor[] Grads, Tensor Inference) Run(bool fusedKernels)
        {
            bool before = KanFeatures.UseFusedKernels;
            KanFeatures.UseFusedKernels = fusedKernels;
            try
            {
                var y = psi.call(u);
                var grads = torch.autograd.grad([(y * weight).sum()], [u, psi.Coefficients, psi.BaseScale!, psi.SplineScale!]).ToArray();
                using (no_grad()) return (y, grads, psi.call(u));
            }
            finally { KanFeatures.UseFusedKernels = before; }
        }
        var fused = Run(true);
        var reference = Run(false);
        var name = gradient == SplineGradient.GradFree ? "grad-free" : "exact";
        return
        [
            Compare($"ψ fused vs torch ({name}): output", fused.Y, reference.Y, 1e-6),
            Compare($"ψ fused vs torch ({name}): inference output", fused.Inference, reference.Inference, 1e-6),
            Compare($"ψ fused vs torch ({name}): du", fused.Grads[0], reference.Grads[0], 1e-6),
            Compare($"ψ fused vs torch ({name}): dc, dw_b, dw_s", cat(fused.Grads[1..].Select(t => t.reshape(-1)).ToArray()),
                cat(reference.Grads[1..].Select(t => t.reshape(-1)).ToArray()), 1e-5),
        ];
    }

    /// <summary>
    /// relu(×2 bilinear upsampling): the fused node against PyTorch's operations (F.interpolate then ReLU, autograd's
    /// gradient) and against its torch formulation, at odd sizes, and the forward kernel alone (inference).
    /// </summary>
    static IEnumerable<ParityCheck> UpsampleFusedVersusTorch(bool channelsLast, Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var values = randn(3, 5, 7, 6).to(device);   // (N, H, W, C)
        var x0 = InLayout(values, channelsLast);
        var gy = randn(3, 6, 10, 14).to(device);
        var kernels = FusedKernels(device);
        (Tensor Y, Tensor Grad) Run(Func<Tensor, Tensor> f) => OutputAndGradient(x0, gy, f);
        var fused = Run(x => UpsampleRelu.Apply(x, kernels));
        var operations = Run(x => nn.functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false).relu());
        var torchForm = Run(x => UpsampleRelu.Apply(x, UpsampleRelu.Torch.Instance));
        Tensor inference;
        using (no_grad()) inference = kernels.UpsampleTwiceRelu(x0);
        var layout = channelsLast ? "channels-last" : "NCHW";
        // With the decoder's skip connection added by the forward kernel: dL/dskip is dL/dy.
        var skip0 = InLayout(randn(3, 10, 14, 6).to(device), channelsLast);
        var skip = skip0.detach().requires_grad_(true);
        var x1 = x0.detach().requires_grad_(true);
        var withSkip = UpsampleRelu.Apply(x1, skip, kernels);
        var skipGrads = torch.autograd.grad([(withSkip * gy).sum()], [x1, skip]);
        return
        [
            Compare($"relu(×2 upsampling) + skip fused vs PyTorch ({layout}): output", withSkip, operations.Y + skip0, 1e-6),
            Compare($"relu(×2 upsampling) + skip fused vs PyTorch ({layout}): dx", skipGrads[0], operations.Grad, 1e-6),
            Compare($"relu(×2 upsampling) + skip fused ({layout}): dskip is dy", skipGrads[1], gy, 0),
            new ParityCheck($"relu(×2 upsampling) + skip ({layout}): the models' path adds the skip in the kernel", 0,
                UpsampleRelu.SkipFits(x0, skip0) ? 0 : double.NaN, 0),
            Compare($"relu(×2 upsampling) fused vs PyTorch ({layout}): output", fused.Y, operations.Y, 1e-6),
            Compare($"relu(×2 upsampling) fused vs PyTorch ({layout}): inference output", inference, operations.Y, 1e-6),
            Compare($"relu(×2 upsampling) fused vs PyTorch ({layout}): dx", fused.Grad, operations.Grad, 1e-6),
            Compare($"relu(×2 upsampling) fused vs torch formulation ({layout}): dx", fused.Grad, torchForm.Grad, 1e-6),
            KeepsLayout($"relu(×2 upsampling) fused ({layout})", channelsLast, fused),
        ];
    }

    /// <summary>
    /// The last upsampling with the segmentation head (<see cref="UpsampleReluHead"/>): the fused node against PyTorch's
    /// operations (F.interpolate, ReLU, conv2d in float64; autograd's gradients of x, w and b) at odd sizes and a batch
    /// large enough that the backward's lanes take several pixels each, the forward kernel alone (inference), dL/dx in
    /// x's layout, and that the models' path takes the kernels for this input and head.
    /// </summary>
    static IEnumerable<ParityCheck> UpsampleHeadFusedVersusTorch(int channels, int classes, Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var x0 = InLayout(randn(6, 37, 45, channels) + 0.2, channelsLast: true).to(device);   // (N, H, W, C) values
        var head = nn.Conv2d(channels, classes, 1).to(device);
        var gz = randn(6, classes, 74, 90).to(device);
        (Tensor Z, Tensor[] Grads) Run(Func<Tensor, Tensor, Tensor, Tensor> f)
        {
            var (x, w, b) = (x0.detach().requires_grad_(true), head.weight!.detach().requires_grad_(true), head.bias!.detach().requires_grad_(true));
            var z = f(x, w, b);
            return (z, [.. torch.autograd.grad([(z * gz).sum()], [x, w, b])]);
        }
        var fused = Run((x, w, b) => UpsampleReluHead.Apply(x, w, b, FusedKernels(device)));
        // In float64 (the kernels' products are float32; cuDNN's, under the section's precision, may be TF32).
        var operations = Run((x, w, b) => nn.functional.conv2d(nn.functional.interpolate(x.to(float64), scale_factor: [2.0, 2.0],
            mode: InterpolationMode.Bilinear, align_corners: false).relu(), w.to(float64), b.to(float64)));
        Tensor inference;
        using (no_grad()) inference = FusedKernels(device).UpsampleTwiceReluConv1x1(x0, head.weight!, head.bias!);
        var tag = $"relu(×2 upsampling) + 1 × 1 head fused vs PyTorch ({channels} channels, {classes} classes)";
        return
        [
            Compare($"{tag}: output", fused.Z, operations.Z, 1e-5),
            Compare($"{tag}: inference output", inference, operations.Z, 1e-5),
            Compare($"{tag}: dx", fused.Grads[0], operations.Grads[0], 1e-5),
            Compare($"{tag}: dw", fused.Grads[1], operations.Grads[1], 1e-5),
            Compare($"{tag}: db", fused.Grads[2], operations.Grads[2], 1e-5),
            new ParityCheck($"{tag}: dx keeps the input's layout", 0, fused.Grads[0].stride().SequenceEqual(x0.stride()) ? 0 : double.NaN, 0),
            new ParityCheck($"{tag}: the models' path takes the fused kernels", 0,
                UpsampleReluHead.With(true, () => UpsampleRelu.With(true, () => UpsampleReluHead.KernelsFor(x0, head.weight!, head.bias))) is not null
                    ? 0 : double.NaN, 0),
        ];
    }

    /// <summary>
    /// The training step's running scores (<see cref="UKan.Training.StepScores"/>): the kernel against PyTorch's operations
    /// on a 256² batch of 8 (many blocks whose counts the last one merges), applied twice to the same sums as a replayed
    /// step does (the kernel's counts must be back at zero), and the training step's path takes the kernel.
    /// </summary>
    static IEnumerable<ParityCheck> StepScoresFusedVersusTorch(Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(13);
        var logits = randn(8, 1, 256, 256).to(device);
        var targets = (rand(8, 1, 256, 256) > 0.7).to(float32).to(device);
        Tensor Run(bool fused)
        {
            var sums = new[] { zeros(1, device: device), zeros(1, device: device), zeros(1, device: device) };
            var counts = zeros(3, dtype: ScalarType.Int64, device: device);
            foreach (var loss in new[] { 0.75f, 0.5f })
                UKan.Training.StepScores.With(fused, () =>
                {
                    UKan.Training.StepScores.Add(logits, targets, tensor(loss, device: device), UKan.Models.SegmentationLoss.BceDice,
                        sums[0], sums[1], sums[2], counts);
                    return 0;
                });
            return cat([.. sums, counts.to(float32)]);
        }
        var fused = Run(true);
        var reference = Run(false);
        return
        [
            Compare("training step scores fused vs PyTorch: last loss, loss sum, IoU sum, counts left", fused, reference, 1e-7),
            new ParityCheck("training step scores: the step's path takes the kernel for one sigmoid output", 0,
                UKan.Training.StepScores.With(true, () => UKan.Training.StepScores.KernelsFor(logits, targets, UKan.Models.SegmentationLoss.BceDice))
                    is not null ? 0 : double.NaN, 0),
        ];
    }

    /// <summary>
    /// relu(×2 bilinear upsampling) on a bfloat16 map and output gradient (the kernels' _bf16 entries, what bf16
    /// autocast runs): the fused node against its torch formulation in float32 on the same values, unrounded. The
    /// kernels compute in float and round each stored value once, so each lies within half a bf16 step of the float32
    /// value (<see cref="Bf16Steps"/>; 1 step from that value rounded); a truncating store is up to a whole step off.
    /// Also: the result and dx are bf16 and keep the layout, and the models' path takes the kernels for such an input.
    /// </summary>
    static IEnumerable<ParityCheck> UpsampleBf16VersusTorch(bool channelsLast, Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(7);
        var x0 = InLayout((randn(3, 5, 7, 6) + 0.2).to(bfloat16).to(device), channelsLast);   // (N, H, W, C) values
        var gy = randn(3, 6, 10, 14).to(bfloat16).to(device);
        var fused = OutputAndGradient(x0, gy, x => UpsampleRelu.Apply(x, FusedKernels(device)));
        var reference = OutputAndGradient(x0.to(float32), gy.to(float32), x => UpsampleRelu.Apply(x, UpsampleRelu.Torch.Instance));
        Tensor inference;
        using (no_grad()) inference = FusedKernels(device).UpsampleTwiceRelu(x0);
        var tag = $"relu(×2 upsampling) bf16 vs float32 torch formulation ({(channelsLast ? "channels-last" : "NCHW")})";
        return
        [
            new ParityCheck($"{tag}: output and dx stored as bf16 ({fused.Y.dtype}, {fused.Grad.dtype})", 0,
                fused.Y.dtype == ScalarType.BFloat16 && fused.Grad.dtype == ScalarType.BFloat16 ? 0 : double.NaN, 0),
            Bf16Steps($"{tag}: output", fused.Y, reference.Y),
            Bf16Steps($"{tag}: inference output", inference, reference.Y),
            Bf16Steps($"{tag}: dx", fused.Grad, reference.Grad),
            KeepsLayout(tag, channelsLast, fused),
            new ParityCheck($"{tag}: the models' path takes the fused kernels for this input", 0,
                UpsampleRelu.With(true, () => UpsampleRelu.KernelsFor(x0)) is not null ? 0 : double.NaN, 0),
        ];
    }

    /// <summary>
    /// A bfloat16 <paramref name="actual"/> against the float32 <paramref name="reference"/> it should be rounded from:
    /// the largest distance in bf16 steps at the reference value (2^(e−7) in [2^e, 2^(e+1)): 8 significant bits) once a
    /// slack of 1e-5·max|reference| for float sums in another order is taken off; at most ½ when rounded to nearest.
    /// </summary>
    static ParityCheck Bf16Steps(string name, Tensor actual, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var a = actual.detach().to(float64).cpu();
        var r = reference.detach().to(float64).cpu();
        var distance = (a - r).abs();
        var step = pow(2.0, floor(log2(r.abs().clamp_min(1e-30))) - 7);
        var steps = ((distance - 1e-5 * r.abs().max()).clamp_min(0) / step).max().item<double>();
        return new ParityCheck($"{name} (bf16 steps from the float32 value)", distance.max().item<double>(), steps, 0.5);
    }

    /// <summary>
    /// relu(2 × 2 max-pooling): the fused node against PyTorch's operations (F.max_pool2d then ReLU, autograd's gradient)
    /// and against its torch formulation, the forward kernel alone (inference), and that the models' path takes the
    /// kernels for such an input. Odd H and W (a last row and column in no window), values on a coarse grid (ties within
    /// windows, which must go to the first maximum) and NaNs, one in a window with a larger value and two in another
    /// window (the last wins). All of it copies values, so the bound is 0; NaN outputs are compared as a stand-in value.
    /// With <paramref name="storage"/> bfloat16 the map and gradient are stored as bf16 (the values are bf16's), which
    /// the kernels' _bf16 entries take: the same comparisons, still exact, and the results must be bf16.
    /// </summary>
    static IEnumerable<ParityCheck> MaxPoolFusedVersusTorch(bool channelsLast, Device device, ScalarType storage = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        manual_seed(6);
        var values = (randn(3, 9, 7, 6) * 2).round() / 2;   // (N, H, W, C)
        values[0, 0, 1, 0].fill_(float.NaN);
        values[0, 0, 0, 0].fill_(5);
        values[1, 2, 2, 3].fill_(float.NaN);
        values[1, 3, 3, 3].fill_(float.NaN);
        var x0 = InLayout(values.to(storage).to(device), channelsLast);
        var gy = randn(3, 6, 4, 3).to(storage).to(device);
        var kernels = FusedKernels(device);
        (Tensor Y, Tensor Grad) Run(Func<Tensor, Tensor> f) => OutputAndGradient(x0, gy, f);
        var fused = Run(x => MaxPoolRelu.Apply(x, kernels));
        var operations = Run(x => nn.functional.max_pool2d(x, 2, 2).relu());
        var torchForm = Run(x => MaxPoolRelu.Apply(x, MaxPoolRelu.Torch.Instance));
        Tensor inference;
        using (no_grad()) inference = kernels.MaxPoolTwiceRelu(x0);
        static Tensor Finite(Tensor y) => y.nan_to_num(1000);
        var layout = (channelsLast ? "channels-last" : "NCHW") + (storage == ScalarType.Float32 ? "" : $", {storage}");
        return
        [
            new ParityCheck($"relu(2 × 2 max-pool) fused ({layout}): output and dx stored as {storage}", 0,
                fused.Y.dtype == storage && fused.Grad.dtype == storage ? 0 : double.NaN, 0),
            Compare($"relu(2 × 2 max-pool) fused vs PyTorch ({layout}): output", Finite(fused.Y), Finite(operations.Y), 0),
            Compare($"relu(2 × 2 max-pool) fused vs PyTorch ({layout}): inference output", Finite(inference), Finite(operations.Y), 0),
            Compare($"relu(2 × 2 max-pool) fused vs PyTorch ({layout}): dx", fused.Grad, operations.Grad, 0),
            Compare($"relu(2 × 2 max-pool) fused vs torch formulation ({layout}): dx", fused.Grad, torchForm.Grad, 0),
            KeepsLayout($"relu(2 × 2 max-pool) fused ({layout})", channelsLast, fused),
            // The models reach the kernels through KernelsFor: were it to refuse such an input, the training comparison
            // (fused vs PyTorch's operations) would compare PyTorch with itself.
            new ParityCheck($"relu(2 × 2 max-pool) ({layout}): the models' path takes the fused kernels for this input", 0,
                MaxPoolRelu.With(true, () => MaxPoolRelu.KernelsFor(x0)) is not null ? 0 : double.NaN, 0),
        ];
    }

    /// <summary>
    /// The 3 × 3 convolution kernels (<see cref="FusedConv3x3"/>) against PyTorch's convolution and its gradients in
    /// float64 (<see cref="FusedConv3x3.Torch"/>): output, dL/dx, dL/dw, and the inference output with a bias, for the
    /// layer shapes of U-KAN's models at odd and even sizes. The few-channel kernels compute in TF32 (run here with TF32
    /// allowed, as by default): on the TF32-rounded inputs they must equal the reference up to float sums (relative norm
    /// 1e-5), and on the inputs as they are within TF32's rounding (3e-3); the depthwise kernels compute in float32
    /// (1e-5), as do the forward and weight gradient of layers on 1 to 4 input channels (1e-5; their dx is cuDNN's,
    /// within TF32's rounding). And that the models' path takes the kernels for each shape.
    /// </summary>
    static IEnumerable<ParityCheck> Conv3x3FusedVersusTorch(Device device)
    {
        var kernels = FusedKernels(device);
        var checks = new List<ParityCheck>();
        long[] one = [1, 1];
        PrecisionSettings.Apply(Precision.Fp32);
        foreach (var (cin, cout, groups, n, h, w) in new (int, int, int, int, int, int)[]
                 {
                     (16, 16, 1, 2, 64, 64), (16, 32, 1, 2, 33, 31), (32, 32, 1, 1, 32, 30), (32, 16, 1, 2, 17, 64), (8, 8, 1, 3, 9, 11),
                     (8, 32, 1, 2, 10, 7), (32, 8, 1, 1, 5, 70),
                     (128, 128, 128, 8, 32, 32), (160, 160, 160, 8, 16, 16), (256, 256, 256, 8, 8, 8), (37, 37, 37, 2, 9, 13),
                     (3, 16, 1, 2, 64, 150), (1, 8, 1, 1, 9, 11), (4, 32, 1, 2, 17, 130),
                 })
        {
            using var scope = NewDisposeScope();
            manual_seed(11);
            var x = InLayout(randn(n, h, w, cin).to(device), channelsLast: true);
            var weight = (randn(cout, cin / groups, 3, 3) * 0.2).to(device);
            var bias = randn(cout).to(device);
            var gy = randn(n, cout, h, w).to(device);
            // Thin inputs (1 to 4 channels): forward and weight gradient ours (float32); dx is PyTorch's convolution,
            // TF32 where cuDNN chooses it.
            bool thin = groups == 1 && cin <= 4, tf32 = groups == 1 && !thin;
            double dxBound = thin ? 3e-3 : 1e-5;
            var tag = $"3 × 3 convolution {cin} → {cout}{(groups > 1 ? " depthwise" : "")} ({n}×{h}×{w})";
            var (xg, wg) = (x.detach().requires_grad_(), weight.detach().requires_grad_());
            var y = FusedConv3x3.Apply(xg, wg, kernels);
            y.backward([gy]);
            Tensor inference;
            using (no_grad()) inference = kernels.Conv3x3(x, weight, bias);
            var reference = FusedConv3x3.Torch.Instance;
            Tensor Exact(Tensor t) => (tf32 ? FusedConv3x3.Tf32Rounded(t) : t.to(float64)).to(device);
            var (x64, w64, b64, g64) = (Exact(x), Exact(weight), bias.to(float64), Exact(gy));
            checks.Add(Compare($"{tag}: output", y, reference.Conv3x3(x64, w64, null), 1e-5));
            checks.Add(Compare($"{tag}: inference output with bias", inference, reference.Conv3x3(x64, w64, b64), 1e-5));
            checks.Add(Compare($"{tag}: dw", wg.grad!, reference.Conv3x3BackwardWeight(x64, g64, w64), 1e-5));
            checks.Add(Compare($"{tag}: dx", xg.grad!, reference.Conv3x3BackwardInput(g64, w64, groups), dxBound));
            if (tf32)
                checks.Add(Compare($"{tag}: output vs float32 inputs (TF32 rounding)", y, reference.Conv3x3(x.to(float64), weight.to(float64), null), 3e-3));
            checks.Add(new ParityCheck($"{tag}: the models' path takes the kernels", 0,
                FusedConv3x3.With(true, () => FusedConv3x3.KernelsFor(xg, wg, one, one, one, groups)) is not null ? 0 : double.NaN, 0));
        }
        PrecisionSettings.Apply(Precision.Fp32Strict);
        checks.Add(new ParityCheck("3 × 3 convolution 16 → 16: not taken where TF32 is not allowed (fp32-strict)", 0,
            FusedConv3x3.With(true, () => FusedConv3x3.KernelsFor(InLayout(zeros(1, 4, 4, 16).to(device), true), zeros(16, 16, 3, 3).to(device), one, one, one, 1))
                is null ? 0 : double.NaN, 0));
        checks.Add(new ParityCheck("3 × 3 convolution 3 → 16: taken under fp32-strict too (its kernels compute in float32)", 0,
            FusedConv3x3.With(true, () => FusedConv3x3.KernelsFor(InLayout(zeros(1, 4, 4, 3).to(device), true), zeros(16, 3, 3, 3).to(device), one, one, one, 1))
                is not null ? 0 : double.NaN, 0));
        return checks;
    }

    /// <summary>
    /// The in-place bias + ReLU kernel against <see cref="BiasRelu.Torch"/> (the same float addition and ReLU, one
    /// rounding for bf16: bound 0, NaN compared as a stand-in value): C = 64 and 16 (vector loads), C = 3 (scalar), a map
    /// 4 bytes off alignment (scalar), bf16 at C = 16; odd H and W; and that the folded convolutions' path takes it.
    /// </summary>
    static IEnumerable<ParityCheck> BiasReluFusedVersusTorch(bool channelsLast, Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(8);
        var kernels = FusedKernels(device);
        var layout = channelsLast ? "channels-last" : "NCHW";
        static Tensor Finite(Tensor y) => y.nan_to_num(1000);
        foreach (var (c, dtype, unaligned) in new[] { (64, float32, false), (3, float32, false), (64, float32, true), (16, bfloat16, false) })
        {
            var (n, h, w) = (3, 9, 7);
            var values = (randn(n, h, w, c) * 2).to(dtype);
            values[0, 0, 0, 0].fill_(float.NaN);
            values[n - 1, h - 1, w - 1, c - 1].fill_(float.NaN);
            var y0 = InLayout(values.to(device), channelsLast);
            // The kernel's input: a copy of y0 in its layout, or one value past an aligned address (the scalar loads).
            Tensor Placed()
            {
                if (!unaligned) return y0.clone();
                var span = empty(y0.numel() + 1, dtype: dtype, device: device).narrow(0, 1, y0.numel());
                return (channelsLast ? span.view(n, h, w, c).permute(0, 3, 1, 2) : span.view(n, c, h, w)).copy_(y0);
            }
            var bias = linspace(-1.5, 1.25, c).to(bfloat16).to(float32).to(device);
            var fused = kernels.BiasReluInPlace(Placed(), bias);
            var torchForm = BiasRelu.Torch.Instance.BiasReluInPlace(y0.clone(), bias);
            var tag = $"bias + ReLU fused vs torch formulation ({layout}, C = {c}, {dtype}{(unaligned ? ", unaligned" : "")})";
            yield return Compare($"{tag}: output", Finite(fused), Finite(torchForm), 0);
            yield return Compare($"{tag}: NaN where torch has NaN", fused.isnan().to(float32), torchForm.isnan().to(float32), 0);
            yield return new ParityCheck($"{tag}: the folded convolutions' path takes the kernel for this map", 0,
                BiasRelu.With(true, () => BiasRelu.KernelsFor(Placed())) is not null ? 0 : double.NaN, 0);
        }
    }

    /// <summary>
    /// The tiny U-KAN folded for inference (each ReLU after a conv → BN pair taken into the folded convolution), logits
    /// with the fused bias + ReLU against the convolution's own bias then ReLU: the same arithmetic but for cuDNN running
    /// the convolution without its bias, so fp32 rounding; NCHW input and a channels-last one. Trained-looking
    /// statistics so that the biases matter.
    /// </summary>
    static IEnumerable<ParityCheck> FoldedFusedVersusNot(ModelSpec spec, Device device)
    {
        using var scope = NewDisposeScope();
        PrecisionSettings.Apply(Precision.Fp32Strict);
        manual_seed(9);
        var model = ModelFactory.Create(spec);
        BatchNormStatistics.Perturb(model);
        model.to(device).eval();
        int pairs = BatchNormFold.Apply(model);
        int withRelu = model.modules().OfType<FoldedConv>().Count(f => f.Relu);
        yield return new ParityCheck($"folded U-KAN: every folded pair takes its ReLU ({withRelu} of {pairs})", 0,
            pairs > 0 && withRelu == pairs ? 0 : double.NaN, 0);
        var nchw = randn(2, 3, 64, 64).to(device);
        foreach (var (layout, x) in new[] { ("NCHW", nchw), ("channels-last", nchw.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)) })
        {
            Tensor Logits(bool fused) => BiasRelu.With(fused, () => { using var _ = no_grad(); return model.call(x); });
            yield return Compare($"folded U-KAN ({layout} input): logits with the fused bias + ReLU vs bias then ReLU",
                Logits(true), Logits(false), 1e-5);
        }
    }

    /// <summary>
    /// y = f(x) on a fresh leaf copy of <paramref name="x0"/>, and dL/dx for L = Σ y·gy (a sum, not a NaN-skipping one:
    /// the gradient reaching a NaN output must be gy's).
    /// </summary>
    static (Tensor Y, Tensor Grad) OutputAndGradient(Tensor x0, Tensor gy, Func<Tensor, Tensor> f)
    {
        var x = x0.detach().requires_grad_(true);
        var y = f(x);
        return (y, torch.autograd.grad([(y * gy).sum()], [x])[0]);
    }

    /// <summary>A check that a fused node's output and dx are laid out as its input (NCHW or channels-last).</summary>
    static ParityCheck KeepsLayout(string node, bool channelsLast, (Tensor Y, Tensor Grad) result) =>
        new($"{node}: output and dx keep the input's layout", 0,
            TensorLayout.DenseChannelsLast(result.Y) == channelsLast && TensorLayout.DenseChannelsLast(result.Grad) == channelsLast ? 0 : double.NaN, 0);

    /// <summary>
    /// bf16 autocast against strict fp32 on the device, same weights and batch. The logits must come out in bf16
    /// (autocast is on). Measured on an H100 (tiny dims, batch 2, 64×64, fresh weights): logits 5.2 % (U-KAN) / 4.7 %
    /// (ALL U-KAN) relative, loss 1e-4, gradients 54 % / 53 %: bf16's 8-bit mantissa through a deep net whose train-mode
    /// batch norms see a handful of values per channel. The bounds are set to catch a broken precision path (wrong
    /// dtype flow, NaN, a dropped term), not bf16's own noise; what bf16 does to accuracy is measured by training
    /// (docs/results.md: BUSI IoU 65.99 vs 66.92 in fp32).
    /// </summary>
    static IEnumerable<ParityCheck> Bf16VersusFp32(ModelSpec spec, Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var model = ModelFactory.Create(spec);
        model.to(device);
        var x = randn(2, spec.InChannels, 64, 64).to(device);
        var target = (rand(2, spec.NumClasses, 64, 64) > 0.5).to(float32).to(device);
        (Tensor Y, Tensor Loss, Tensor Grads) Run(Precision precision)
        {
            PrecisionSettings.Apply(precision);
            using (no_grad()) foreach (var p in model.parameters()) p.grad?.zero_();
            try { return TrainForward(model, x, target); }
            finally { PrecisionSettings.Apply(Precision.Fp32); }
        }
        var reference = Run(Precision.Fp32Strict);
        var half = Run(Precision.Bf16);
        var name = spec.Architecture.ToString();
        return
        [
            new ParityCheck($"{name} bf16: logits are bf16 under autocast ({half.Y.dtype})", 0, half.Y.dtype == ScalarType.BFloat16 ? 0 : double.NaN, 0),
            Compare($"{name} bf16 vs fp32: logits", half.Y.to(float32), reference.Y, 1.5e-1),
            Compare($"{name} bf16 vs fp32: loss", half.Loss, reference.Loss, 1e-2),
            Compare($"{name} bf16 vs fp32: gradients", half.Grads, reference.Grads, 1.0),
        ];
    }

    static ParityCheck SamplingVersusCpu(Device device)
    {
        manual_seed(2);
        var cpuModel = UKan.Models.Diffusion.DdpmBackbone.Create(UKan.Models.Diffusion.DiffusionArchitecture.UKanHybrid);
        var devModel = UKan.Models.Diffusion.DdpmBackbone.Create(UKan.Models.Diffusion.DiffusionArchitecture.UKanHybrid);
        UKan.Checkpoints.StateDictLoader.Copy(cpuModel, devModel);
        devModel.to(device);
        var ddpm = new UKan.Diffusion.Ddpm();
        var c = UKan.Diffusion.Samples.Generate(cpuModel, ddpm, 2, CPU, ddimSteps: 2, seed: 4);
        var d = UKan.Diffusion.Samples.Generate(devModel, ddpm, 2, device, ddimSteps: 2, seed: 4);
        // 8-bit images: allow a step of one grey level where a value sits on a rounding boundary.
        Tensor Bytes(List<UKan.Data.Raster> images) => tensor(images.SelectMany(r => r.Pixels8).Select(b => (float)b).ToArray());
        return Compare("Diffusion U-KAN: 2 DDIM steps from one seed, 8-bit images", Bytes(d), Bytes(c), 1e-2);
    }


    /// <summary>Runs device checks; a native error becomes one failed check naming it instead of ending the self-test.</summary>
    static IEnumerable<ParityCheck> Guarded(string what, Func<IEnumerable<ParityCheck>> checks)
    {
        try { return checks().ToList(); }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            return [new ParityCheck($"{what}: {e.Message.Split('\n')[0]}", double.NaN, double.NaN, 0)];
        }
    }

    static (Tensor Y, Tensor Loss, Tensor Grads) TrainForward(nn.Module<Tensor, Tensor> model, Tensor x, Tensor target)
    {
        model.train();
        var y = model.call(x);
        var loss = new BceDiceLoss().call(y, target);
        loss.backward();
        // A parameter the forward leaves out (a convolution's bias before a training-mode batch norm) has no gradient: zero.
        var grads = cat(model.parameters().Select(p => (p.grad ?? zeros_like(p)).flatten()).ToArray());
        return (y.cpu(), loss.cpu(), grads.cpu());
    }

    /// <summary>
    /// Trains the tiny model six steps eagerly and six steps by replaying one captured step, and compares the losses.
    /// Parameters themselves are not compared: Adam turns the rounding noise of gradients that are mathematically zero
    /// (conv biases before BatchNorm where they still get one: ALL U-KAN, UKAN_BIAS_BEFORE_BN=official) into full-size
    /// steps of either sign, so they differ between any two runs.
    /// </summary>
    static ParityCheck GraphVersusEager(Device device)
    {
        var spec = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" };
        return Compare("training: CUDA graph replay vs eager, losses of 6 steps", TrainLosses(spec, device, true, false), TrainLosses(spec, device, false, false), 1e-3);
    }

    /// <summary>The channels_last layout the trainer uses on CUDA against NCHW: the same 6 losses, graph-replayed.</summary>
    static ParityCheck ChannelsLastVersusNchw(Device device)
    {
        var spec = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" };
        return Compare("training: channels_last vs NCHW, losses of 6 steps", TrainLosses(spec, device, true, true), TrainLosses(spec, device, true, false), 1e-3);
    }

    /// <summary>
    /// Gradients gathered into the flat optimizer buffers after backward (the multi-tensor copy of the libtorch shim,
    /// channels_last strides) against accumulated into them during backward: the same 6 losses, graph-replayed.
    /// </summary>
    static ParityCheck GatherVersusAccumulate(Device device)
    {
        var spec = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" };
        return Compare("training: gradients gathered vs accumulated, losses of 6 steps",
            TrainLosses(spec, device, true, true, gather: true), TrainLosses(spec, device, true, true, gather: false), 1e-3);
    }

    /// <summary>
    /// One fused path against what it replaces in training (<paramref name="with"/>: the path's switch forced on, then
    /// off, for the calling flow): the same 6 losses, graph-replayed, channels_last, the tiny U-KAN.
    /// </summary>
    static ParityCheck TrainingFusedVersusNot(string what, Func<bool, Func<Tensor>, Tensor> with, Device device)
    {
        var spec = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" };
        return Compare($"training: {what}, losses of 6 steps",
            with(true, () => TrainLosses(spec, device, true, true)), with(false, () => TrainLosses(spec, device, true, true)), 1e-3);
    }

    /// <summary><see cref="TrainingFusedVersusNot(string, Func{bool, Func{Tensor}, Tensor}, Device)"/> for each path in turn.</summary>
    static IEnumerable<ParityCheck> TrainingFusedVersusNot(Device device, params (string What, Func<bool, Func<Tensor>, Tensor> With)[] paths) =>
        paths.Select(p => TrainingFusedVersusNot(p.What, p.With, device)).ToArray();

    /// <summary>
    /// A convolution with a large bias, then batch norm + ReLU in training mode: the bias left out and handed to the fused
    /// node's running-mean update (<see cref="ConvBatchNorm"/>) against the official computation (bias added, then the
    /// batch norm): the same output and running statistics, and the fused node taken.
    /// </summary>
    static IEnumerable<ParityCheck> DroppedBiasVersusOfficial(Device device)
    {
        using var scope = NewDisposeScope();
        using var strict = PrecisionSettings.Scope(Precision.Fp32Strict, device);   // cuDNN in float32 both ways: only the bias's rounding differs
        manual_seed(3);
        var (conv, bn, relu) = ConvBatchNormRelu(device);
        using (no_grad()) conv.bias!.copy_(linspace(-2.0, 3.0, 16));
        var x = InLayout(randn(2, 32, 32, 16).to(device), channelsLast: true);
        foreach (var check in BothWays("convolution, bias left out, batch norm + ReLU", conv, bn, relu, x, ConvBatchNorm.With)) yield return check;
        using var noGrad = no_grad();
        yield return new ParityCheck("convolution, bias left out, batch norm + ReLU: the fused node takes the bias", 0,
            BatchNormRelu.KernelsFor(bn, conv.call(x)) is not null ? 0 : double.NaN, 0);
    }

    /// <summary>A 16 → 16 3 × 3 convolution with bias, a BatchNorm2d and a ReLU on <paramref name="device"/>.</summary>
    static (TorchSharp.Modules.Conv2d Conv, TorchSharp.Modules.BatchNorm2d Bn, TorchSharp.Modules.ReLU Relu) ConvBatchNormRelu(Device device)
    {
        var conv = nn.Conv2d(16, 16, 3, padding: 1);
        var bn = nn.BatchNorm2d(16);
        conv.to(device);
        bn.to(device);
        return (conv, bn, nn.ReLU());
    }

    /// <summary>
    /// relu(bn(conv(x))) in training mode through <c>ConvBatchNorm.Forward</c> with <paramref name="with"/>'s switch on
    /// and off, from the same running statistics: output and running statistics compared.
    /// </summary>
    static IEnumerable<ParityCheck> BothWays(string what, nn.Module<Tensor, Tensor> conv, TorchSharp.Modules.BatchNorm2d bn,
        nn.Module<Tensor, Tensor> relu, Tensor x, Func<bool, Func<(Tensor, Tensor)>, (Tensor, Tensor)> with)
    {
        var (mean0, var0) = (bn.running_mean!.clone(), bn.running_var!.clone());
        (Tensor Y, Tensor Stats) Run(bool on) => with(on, () =>
        {
            using (no_grad()) { bn.running_mean!.copy_(mean0); bn.running_var!.copy_(var0); }
            var y = ConvBatchNorm.Forward(conv, bn, x, relu).detach();
            return (y, cat([bn.running_mean!, bn.running_var!]));
        });
        var (on, off) = (Run(true), Run(false));
        yield return Compare($"{what}: output", on.Y, off.Y, 1e-5);
        yield return Compare($"{what}: running mean and variance", on.Stats, off.Stats, 1e-5);
    }

    /// <summary>
    /// The weight gradient of a 160-channel KAN layer (dW = dyᵀ·F, 160 × 1,440 over 2,048 tokens) split in four along its
    /// reduction (the four products added by our merge kernel) against the single float32 product and the split added by
    /// torch's sum, all against float64.
    /// </summary>
    static ParityCheck SplitProductVersusSingle(Device device)
    {
        using var scope = NewDisposeScope();
        manual_seed(9);
        var (dy, f) = (randn(2048, 160, device: device), randn(2048, 1440, device: device));
        var error = RelativeError(dy.to(float64).t().matmul(f.to(float64)));
        var (split, single) = (error(SplitReduction.Product(dy.t(), f, 4)), error(dy.t().matmul(f)));
        var torchSum = SplitReduction.WithMerge(false, () => error(SplitReduction.Product(dy.t(), f, 4)));
        return new ParityCheck($"KAN weight gradient split in 4 vs float64 (single product: {single:E2}; torch's sum of the split: {torchSum:E2})",
            split, split, 1e-5);
    }

    /// <summary>
    /// Our KAN product kernels on the three products of a 160-channel KAN layer over 2,048 tokens (y = F·Wᵀ, dW = dyᵀ·F,
    /// dF = dy·W), in every tile, whole and split in four along the reduction, against float64: the largest error of
    /// each layout over its tiles and splits, on the CUDA cores and on the tensor cores (3xTF32), relative to the largest value (cuBLAS's float32 error in the name).
    /// </summary>
    static IEnumerable<ParityCheck> KanProductKernelsVersusFloat64(Device device)
    {
        using var scope = NewDisposeScope();
        if (ProductKernels(device) is not { } kernels)
        {
            yield return new ParityCheck("KAN product kernels: the fused kernels did not load", double.NaN, double.NaN, 0);
            yield break;
        }
        manual_seed(10);
        var (f, w, dy) = (randn(2048, 1440, device: device), randn(160, 1440, device: device) * 0.03, randn(2048, 160, device: device));
        foreach (var (name, a, b) in new[] { ("y = F·Wᵀ (nt)", f, w.t()), ("dW = dyᵀ·F (tn)", dy.t(), f), ("dF = dy·W (nn)", dy, w) })
        {
            var error = RelativeError(a.to(float64).matmul(b.to(float64)));
            foreach (var (cores, tiles) in new[] { ("CUDA cores", KanProductTiles.All), ("tensor cores, 3xTF32", KanProductTiles.Tf32x3) })
            {
                if (tiles == KanProductTiles.Tf32x3 && !kernels.Tf32TensorCores) continue;   // before sm_80: never taken
                // Every tile and split the kernels take here (not 4 slices of the 160-deep reduction in steps of 32,
                // nor a tile whose buffers pass the GPU's shared memory); none taken is a failure (NaN).
                var errors = tiles.SelectMany(tile => new[] { 1, 4 }.Where(splits => kernels.KanProductSupports(a, b, tile, splits))
                    .Select(splits => error(kernels.KanProduct(a, b, tile, splits)))).ToList();
                double worst = errors.Count > 0 ? errors.Max() : double.NaN;
                yield return new ParityCheck($"KAN product kernels ({cores}), {name}, every tile, whole and in 4, vs float64 (cuBLAS: {error(a.matmul(b)):E2})",
                    worst, worst, 1e-5);
            }
        }
    }

    /// <summary>
    /// KANLinear's dL/dx from dL/dy in one kernel (<see cref="KanInputGradient"/>) on a 128-channel layer over 8,192
    /// tokens (U-KAN's decoder block at 256², a grid that fills the GPU) against float64 (dL/dF = dL/dy · W, then the
    /// features' backward in torch), relative to the largest value, its product on the CUDA cores and on the tensor cores
    /// (3xTF32); the two-step float32 path's error in the name.
    /// </summary>
    static IEnumerable<ParityCheck> KanInputGradVersusFloat64(Device device)
    {
        using var scope = NewDisposeScope();
        const string name = "KAN dL/dx in one kernel (128 channels, 8,192 tokens) vs float64";
        if (ProductKernels(device) is not { } kernels)
        {
            yield return new ParityCheck($"{name}: the fused kernels did not load", double.NaN, double.NaN, 0);
            yield break;
        }
        manual_seed(11);
        var knots = new BSplineBasis.UniformKnots(-2.2, 0.4, 8);
        var (dy, w, x) = (randn(8192, 128, device: device), randn(128, 1152, device: device) * 0.03, randn(8192, 128, device: device) * 1.5);
        var error = RelativeError(KanFeatures.Torch.Instance.BackwardInput(x.to(float64), dy.to(float64).matmul(w.to(float64)), knots));
        var twoSteps = error(KanInputGradient.With(false, () => KanInputGradient.Backward(dy, w, x, knots)));
        foreach (var (cores, tensorCores) in new[] { ("CUDA cores", false), ("tensor cores, 3xTF32", true) })
        {
            if (tensorCores && !kernels.Tf32TensorCores) continue;   // before sm_80: never taken
            if (!kernels.KanInputGradSupports(dy, w, x, knots, tensorCores))
            {
                yield return new ParityCheck($"{name}, {cores}: the kernel does not take the layer", double.NaN, double.NaN, 0);
                continue;
            }
            var fused = error(kernels.KanInputGrad(dy, w, x, knots, tensorCores));
            yield return new ParityCheck($"{name}, {cores} (two steps: {twoSteps:E2})", fused, fused, 1e-5);
        }
    }

    /// <summary>The KAN product kernels of <paramref name="device"/>, or null when the fused kernels did not load.</summary>
    static IKanProductKernels? ProductKernels(Device device) => KanFeatures.CudaKernels(device.index < 0 ? 0 : device.index);

    /// <summary>
    /// A float32 result's largest deviation from the float64 <paramref name="exact"/>, relative to the largest magnitude
    /// of <paramref name="exact"/> (the KAN products' checks).
    /// </summary>
    static Func<Tensor, double> RelativeError(Tensor exact)
    {
        var scale = exact.abs().max().item<double>();
        return result => (result.to(float64) - exact).abs().max().item<double>() / scale;
    }

    /// <summary>
    /// A 16 → 16 convolution on our kernels followed by the fused batch norm + ReLU in training mode (TF32, the kernels'
    /// precision): the batch statistics formed by the convolution's kernel while it writes its output against the batch
    /// norm's own pass over it: the same output and running statistics, and the statistics taken from the kernel.
    /// </summary>
    static IEnumerable<ParityCheck> StatisticsFromConvolution(Device device)
    {
        using var scope = NewDisposeScope();
        using var tf32 = PrecisionSettings.Scope(Precision.Fp32, device);
        manual_seed(5);
        var (conv, bn, relu) = ConvBatchNormRelu(device);
        var x = InLayout((randn(4, 40, 56, 16) * 2 + 0.5).to(device), channelsLast: true);
        foreach (var check in BothWays("convolution kernels' batch statistics, batch norm + ReLU", conv, bn, relu, x, FusedConv3x3.WithStatistics))
            yield return check;
        var box = new System.Runtime.CompilerServices.StrongBox<Tensor?>();
        using (no_grad())
            FusedConv3x3.WithStatistics(true, () => FusedConv3x3.Forward(x, conv.weight!, null, conv.stride, conv.padding!, conv.dilation, conv.groups, box));
        using var statistics = box.Value;
        yield return new ParityCheck("convolution kernels' batch statistics: formed by the 16 → 16 kernel", 0, statistics is not null ? 0 : double.NaN, 0);
    }

    /// <summary>
    /// One training-mode batch norm + ReLU on channels-last input: the fused kernels against BatchNorm2d then ReLU
    /// (output, running statistics, gradients of x, w and b) and against <see cref="BatchNormRelu.Torch"/>. Two shapes:
    /// U-KAN's first stage (32 channels, 32,768 rows) and an odd one (37 channels: a partial tile of 32; 189 rows).
    /// </summary>
    static IEnumerable<ParityCheck> BatchNormReluFusedVersusModules(Device device)
    {
        foreach (var (n, c, h, w) in new[] { (8, 32, 64, 64), (3, 37, 9, 7) })
        {
            var tag = $"batch norm + ReLU ({n}x{c}x{h}x{w})";
            var fused = nn.BatchNorm2d(c);
            var modules = nn.BatchNorm2d(c);
            var torchForm = nn.BatchNorm2d(c);
            using (no_grad())
                foreach (var bn in new[] { fused, modules, torchForm })
                {
                    bn.weight!.copy_(linspace(0.5, 1.5, c));
                    bn.bias!.copy_(linspace(-0.3, 0.4, c));
                    bn.running_mean!.copy_(linspace(-0.1, 0.1, c));
                    bn.running_var!.copy_(linspace(0.8, 1.2, c));
                }
            foreach (var bn in new[] { fused, modules, torchForm }) bn.to(device).train();
            var x0 = (randn(n, h, w, c) * 2 + 0.5).to(device).permute(0, 3, 1, 2);   // channels_last strides
            var gy = randn(n, h, w, c).to(device).permute(0, 3, 1, 2);
            var kernels = FusedKernels(device);
            (Tensor Y, Tensor[] Grads) Run(TorchSharp.Modules.BatchNorm2d bn, Func<Tensor, Tensor> f)
            {
                var x = x0.detach().requires_grad_(true);
                var y = f(x);
                return (y, torch.autograd.grad([(y * gy).sum()], [x, bn.weight!, bn.bias!]).ToArray());
            }
            var (yf, gf) = Run(fused, x => BatchNormRelu.Apply(fused, x, kernels));
            var (ym, gm) = Run(modules, x => nn.functional.relu(modules.call(x)));
            var (yt, gt) = Run(torchForm, x => BatchNormRelu.Apply(torchForm, x, BatchNormRelu.Torch.Instance));
            foreach (var (what, y, g, bn) in new[] { ("vs modules", ym, gm, modules), ("vs torch formulation", yt, gt, torchForm) })
            {
                yield return Compare($"{tag} {what}: output", yf, y, 1e-5);
                yield return Compare($"{tag} {what}: running mean and variance", cat([fused.running_mean!, fused.running_var!]),
                    cat([bn.running_mean!, bn.running_var!]), 1e-5);
                yield return Compare($"{tag} {what}: dx", gf[0], g[0], 1e-5);
                yield return Compare($"{tag} {what}: dw, db", cat([gf[1], gf[2]]), cat([g[1], g[2]]), 1e-5);
            }
            yield return Compare($"{tag}: batches tracked", fused.num_batches_tracked!, modules.num_batches_tracked!, 0);
        }
    }

    /// <summary>
    /// The kernels' bfloat16 entries (what bf16 autocast runs): KAN features from float32 and from bf16 inputs and their
    /// backward from a bf16 gradient, and training-mode batch norm + ReLU on a bf16 channels-last map, each against its
    /// torch formulation on the same values (float arithmetic, one rounding to bf16 at the end). A value rounded on the
    /// other side of a tie is one bf16 step (2⁻⁸ relative) off, so the bound on the relative norm is 2⁻⁸; a wrong entry,
    /// a missing rounding (truncation) or a float32 store read as bf16 is far beyond it.
    /// </summary>
    static IEnumerable<ParityCheck> Bf16StorageVersusTorch(Device device)
    {
        const double bound = 1.0 / 256;
        var knots = BSplineBasis.TryUniform(BSplineBasis.MakeKnots(5, 3, -1, 1), 3)!.Value;
        var x32 = (randn(2048, 40) * 1.7).to(device);
        var x16 = x32.to(bfloat16);
        var g = randn(2048, 40 * (knots.BasisCount + 1)).to(bfloat16).to(device);
        foreach (var (name, x) in new[] { ("float32", x32), ("bf16", x16) })
        {
            var tag = $"KAN features, {name} input, bf16 features";
            var fused = KanFeatures.Forward(x, knots, ScalarType.BFloat16);
            yield return new ParityCheck($"{tag}: stored as bf16 ({fused.dtype})", 0, fused.dtype == ScalarType.BFloat16 ? 0 : double.NaN, 0);
            yield return Compare(tag, fused, KanFeatures.Torch.Instance.Forward(x, knots, ScalarType.BFloat16), bound);
            var dx = KanFeatures.BackwardInput(x, g, knots);
            yield return new ParityCheck($"{tag}: dx stored as the input ({dx.dtype})", 0, dx.dtype == x.dtype ? 0 : double.NaN, 0);
            yield return Compare($"{tag}: dx from a bf16 gradient", dx, KanFeatures.Torch.Instance.BackwardInput(x, g, knots), bound);
        }

        var (n, c, h, w) = (8, 32, 32, 32);
        var fusedBn = nn.BatchNorm2d(c);
        var torchBn = nn.BatchNorm2d(c);
        foreach (var bn in new[] { fusedBn, torchBn }) bn.to(device).train();
        var x0 = (randn(n, h, w, c) * 2 + 0.5).to(bfloat16).to(device).permute(0, 3, 1, 2);   // channels_last strides
        var gy = randn(n, h, w, c).to(bfloat16).to(device).permute(0, 3, 1, 2);
        (Tensor Y, Tensor[] Grads) Run(TorchSharp.Modules.BatchNorm2d bn, IBatchNormReluKernels kernels)
        {
            var x = x0.detach().requires_grad_(true);
            var y = BatchNormRelu.Apply(bn, x, kernels);
            return (y, torch.autograd.grad([y], [x, bn.weight!, bn.bias!], [gy]).ToArray());
        }
        var (yf, gf) = Run(fusedBn, FusedKernels(device));
        var (yt, gt) = Run(torchBn, BatchNormRelu.Torch.Instance);
        var bnTag = $"batch norm + ReLU, bf16 ({n}x{c}x{h}x{w})";
        yield return new ParityCheck($"{bnTag}: output and dx stored as bf16 ({yf.dtype}, {gf[0].dtype})", 0,
            yf.dtype == ScalarType.BFloat16 && gf[0].dtype == ScalarType.BFloat16 ? 0 : double.NaN, 0);
        yield return Compare($"{bnTag}: output", yf, yt, bound);
        yield return Compare($"{bnTag}: dx", gf[0], gt[0], bound);
        yield return Compare($"{bnTag}: dw, db", cat([gf[1], gf[2]]), cat([gt[1], gt[2]]), 1e-5);
        yield return Compare($"{bnTag}: running mean and variance", cat([fusedBn.running_mean!, fusedBn.running_var!]),
            cat([torchBn.running_mean!, torchBn.running_var!]), 1e-5);
    }

    /// <summary>
    /// The fused LayerNorm node against nn.LayerNorm (output, gradients of x, w and b) on float32 tokens of U-KAN's widths
    /// (160 over 2,048 rows, 512 over 512) and an odd one (37), and on bf16 tokens against the torch formulation (float
    /// arithmetic on the same values; dL/dx rounded once to bf16: half a bf16 step, relative 2⁻⁸ at most).
    /// </summary>
    static IEnumerable<ParityCheck> LayerNormFusedVersusModule(Device device)
    {
        var kernels = FusedKernels(device);
        foreach (var (rows, c) in new[] { (2048, 160), (512, 512), (333, 37) })
        {
            var norm = nn.LayerNorm(c);
            using (no_grad())
            {
                norm.weight!.copy_(linspace(0.5, 1.5, c));
                norm.bias!.copy_(linspace(-0.3, 0.4, c));
            }
            norm.to(device);
            var x0 = (randn(rows, c) * 1.5 + 0.3).to(device);
            var gy = randn(rows, c).to(device);
            (Tensor Y, Tensor[] Grads) Run(Tensor input, Func<Tensor, Tensor> f)
            {
                var x = input.detach().requires_grad_(true);
                var y = f(x);
                return (y, torch.autograd.grad([y], [x, norm.weight!, norm.bias!], [gy]).ToArray());
            }
            var tag = $"LayerNorm ({rows}x{c})";
            var (yf, gf) = Run(x0, x => FusedLayerNorm.Apply(norm, x, kernels));
            var (ym, gm) = Run(x0, x => norm.call(x));
            yield return Compare($"{tag} fused vs module: output", yf, ym, 1e-5);
            yield return Compare($"{tag} fused vs module: dx", gf[0], gm[0], 1e-5);
            yield return Compare($"{tag} fused vs module: dw, db", cat([gf[1], gf[2]]), cat([gm[1], gm[2]]), 1e-5);
            var x16 = x0.to(bfloat16);
            var (yb, gb) = Run(x16, x => FusedLayerNorm.Apply(norm, x, kernels));
            var (yt, gt) = Run(x16, x => FusedLayerNorm.Apply(norm, x, FusedLayerNorm.Torch.Instance));
            yield return new ParityCheck($"{tag}, bf16 tokens: float32 out, bf16 dx ({yb.dtype}, {gb[0].dtype})", 0,
                yb.dtype == ScalarType.Float32 && gb[0].dtype == ScalarType.BFloat16 ? 0 : double.NaN, 0);
            yield return Compare($"{tag}, bf16 tokens, fused vs torch formulation: output", yb, yt, 1e-5);
            yield return Compare($"{tag}, bf16 tokens, fused vs torch formulation: dx", gb[0], gt[0], 1.0 / 256);
            yield return Compare($"{tag}, bf16 tokens, fused vs torch formulation: dw, db", cat([gb[1], gb[2]]), cat([gt[1], gt[2]]), 1e-5);
            // The patch embedding's convolution bias handed to the node: against the module on x + b, b's gradient too.
            var ib0 = linspace(-2.0, 1.0, c).to(device);
            (Tensor Y, Tensor[] Grads) RunBiased(Func<Tensor, Tensor, Tensor> f)
            {
                var (x, ib) = (x0.detach().requires_grad_(true), ib0.detach().requires_grad_(true));
                var y = f(x, ib);
                return (y, torch.autograd.grad([y], [x, ib, norm.weight!, norm.bias!], [gy]).ToArray());
            }
            var (yi, gi) = RunBiased((x, ib) => FusedLayerNorm.Apply(norm, x, kernels, inputBias: ib));
            var (yr, gr) = RunBiased((x, ib) => norm.call(x + ib));
            yield return Compare($"{tag} with an input bias, fused vs module: output", yi, yr, 1e-5);
            yield return Compare($"{tag} with an input bias, fused vs module: dx", gi[0], gr[0], 1e-5);
            yield return Compare($"{tag} with an input bias, fused vs module: d(input bias), dw, db", cat([gi[1], gi[2], gi[3]]),
                cat([gr[1], gr[2], gr[3]]), 1e-5);
        }
    }

    /// <summary>
    /// KANLinear's fused weight through the kernels' autograd node against autograd through the torch formulation: U-KAN's
    /// largest KAN layer (256 × 256, K = 8, with the spline scaler) alone, then three layers in one launch each way (that
    /// one, an odd size without the scaler and a 160-channel layer), as <see cref="KanWeightBatch"/> builds a model's.
    /// </summary>
    static IEnumerable<ParityCheck> KanWeightFusedVersusTorch(Device device)
    {
        var kernels = FusedKernels(device);
        (int O, int I, bool Scaled)[] shapes = [(256, 256, true), (37, 29, false), (160, 160, true)];
        foreach (var layers in new[] { shapes[..1], shapes })
        {
            var tag = $"KAN fused weight ({string.Join(", ", layers.Select(l => $"{l.O}x{l.I}x8{(l.Scaled ? " scaled" : "")}"))})";
            var parameters = layers.Select(l => new[] { randn(l.O, l.I), randn(l.O, l.I, 8), randn(l.O, l.I) }.Select(t => t.to(device)).ToArray()).ToArray();
            var g = layers.Select(l => randn(l.O, l.I * 9).to(device)).ToArray();
            (Tensor W, Tensor Grads) Run(Func<KanWeightParts[], Tensor[]> fuse)
            {
                var p = parameters.Select(ps => ps.Select(t => t.detach().requires_grad_(true)).ToArray()).ToArray();
                var leaves = p.Select((ps, l) => layers[l].Scaled ? ps : ps[..2]).ToArray();
                var w = fuse([.. leaves.Select(ps => new KanWeightParts(ps[0], ps[1], ps.Length > 2 ? ps[2] : null))]);
                var loss = w.Select((t, l) => (t * g[l]).sum()).Aggregate((a, b) => a + b);
                var grads = torch.autograd.grad([loss], [.. leaves.SelectMany(ps => ps)]);
                return (cat(w.Select(t => t.flatten()).ToArray()), cat(grads.Select(t => t.flatten()).ToArray()));
            }
            var (wf, gf) = Run(parts => KanWeight.Apply(parts, kernels));
            var (wt, gt) = Run(parts => [.. parts.Select(KanWeight.Torch.Forward)]);
            yield return Compare($"{tag}: weight", wf, wt, 0);
            yield return Compare($"{tag}: gradients", gf, gt, 1e-5);
        }
    }

    /// <summary>
    /// Three steps of <see cref="FlatAdam"/> over two groups (U-KAN's two learning rates) with the fused kernel and with
    /// the torch formulation, from the same parameters and gradients: coupled weight decay with the step scalars on the
    /// device (graph-replayable), and AdamW with them on the host.
    /// </summary>
    static IEnumerable<ParityCheck> AdamFusedVersusTorch(Device device)
    {
        foreach (var (decoupled, capturable) in new[] { (false, true), (true, false) })
        {
            var tag = $"Adam step ({(decoupled ? "AdamW" : "Adam")}, {(capturable ? "device" : "host")} scalars)";
            var gen = new Generator(31);
            long[][] shapes = [[37, 29], [256], [16, 3, 3, 3]];
            var initial = shapes.Select(s => randn(s, generator: gen)).ToArray();
            var grads = Enumerable.Range(0, 3).Select(_ => shapes.Select(s => randn(s, generator: gen)).ToArray()).ToArray();
            bool ranFused = false;
            Tensor[] Run(bool fused) => FlatAdam.WithFused<Tensor[]>(fused, () =>
            {
                var p = initial.Select(t => new TorchSharp.Modules.Parameter(t.to(device))).ToArray();
                using var opt = new FlatAdam(
                    [(new GroupSettings("kan", 1e-2, 1e-4), [("a", p[0])]), (new GroupSettings("other", 1e-4, 1e-4), [("b", p[1]), ("c", p[2])])],
                    decoupledWeightDecay: decoupled, capturable: capturable);
                foreach (var step in grads)
                {
                    using (no_grad())
                        for (int i = 0; i < p.Length; i++) p[i].grad!.copy_(step[i]);
                    opt.Step();
                }
                if (fused) ranFused = opt.LastStepFused;
                return [.. opt.Groups.SelectMany(g => new[] { g.Params, g.ExpAvg, g.ExpAvgSq }).Select(t => t.cpu())];
            });
            var (fused, reference) = (Run(true), Run(false));
            yield return new ParityCheck($"{tag}: the fused kernel ran", 0, ranFused ? 0 : double.NaN, 0);
            string[] names = ["parameters", "first moments", "second moments"];
            for (int k = 0; k < 3; k++)
                yield return Compare($"{tag}: {names[k]}", cat([fused[k], fused[k + 3]]), cat([reference[k], reference[k + 3]]), 1e-6);
        }
    }

    /// <summary>
    /// The BCE + Dice loss as the fused node and as the module's formula (<see cref="FusedBceDice"/> off), on one batch:
    /// the loss and the gradient of 0.7 × loss, one class channels-last as U-KAN's head gives it, and NCHW and
    /// channels-last with several classes and odd sizes.
    /// </summary>
    static IEnumerable<ParityCheck> LossFusedVersusModule(Device device)
    {
        var kernels = FusedKernels(device);
        foreach (var (n, c, h, w, channelsLast) in new[] { (8, 1, 64, 64, true), (3, 2, 17, 9, false), (2, 3, 5, 7, true) })
        {
            var tag = $"BCE + Dice loss ({n}x{c}x{h}x{w}{(channelsLast ? ", channels-last" : "")})";
            var x = InLayout((randn(n, h, w, c) * 3).to(device), channelsLast);
            var t = InLayout((rand(n, h, w, c) > 0.6).to(float32).to(device), channelsLast);
            var scale = tensor(0.7f, device: device);
            var fused = OutputAndGradient(x, scale, xi => FusedBceDice.Apply(xi, t, 0.5, kernels));
            var module = OutputAndGradient(x, scale, xi => FusedBceDice.With(false, () => new BceDiceLoss().call(xi, t)));
            yield return Compare($"{tag}: loss", fused.Y, module.Y, 1e-6);
            yield return Compare($"{tag}: gradient", fused.Grad, module.Grad, 1e-5);
        }
    }

    static int DeviceIndex(Device device) => device.index < 0 ? 0 : device.index;

    /// <summary>The fused CUDA kernels of <paramref name="device"/>; a failed check when they could not be built.</summary>
    static IFusedCudaKernels FusedKernels(Device device) =>
        KanFeatures.CudaKernels(DeviceIndex(device)) ?? throw new InvalidOperationException($"fused kernels unavailable: {KanFeatures.CudaProblem}");

    /// <summary>An (N, H, W, C) tensor as (N, C, H, W): a channels-last view, or an NCHW (contiguous) copy.</summary>
    static Tensor InLayout(Tensor nhwc, bool channelsLast) => channelsLast ? nhwc.permute(0, 3, 1, 2) : nhwc.permute(0, 3, 1, 2).contiguous();

    /// <summary>
    /// Six training steps from one seed on random batches, through the trainer's own step; the losses.
    /// <paramref name="gather"/>: gather or accumulate the gradients (null: the step's default).
    /// </summary>
    static Tensor TrainLosses(ModelSpec spec, Device device, bool graph, bool channelsLast, bool? gather = null)
    {
        using var side = graph ? new UKan.Native.SideStreamScope(UKan.Native.DeviceIndex.Of(device)) : null;
        manual_seed(5);
        var model = ModelFactory.Create(spec);
        model.to(device);
        model.train();
        using var opt = new FlatAdam(ParameterGroups.Official(model.named_parameters().Select(p => (p.name, p.parameter)).ToList()), capturable: graph, channelsLast: channelsLast);
        // Step 0 runs eagerly in both variants (it also warms up cuBLAS/cuDNN); with graphs step 1 is captured and
        // replayed, the later ones replayed: exactly what an epoch of training does.
        using var step = new TrainingStep(model, opt, new BceDiceLoss(), 2, 3, 1, 64, 64, device, graph, channelsLast,
            gatherGradients: gather);
        var gen = new Generator(7);
        var losses = new List<float>();
        for (int i = 0; i < 6; i++)
        {
            using (no_grad())
            {
                step.Images.copy_(randn(2, 3, 64, 64, generator: gen));
                step.Targets.copy_((rand(2, 1, 64, 64, generator: gen) > 0.7).to(float32));
            }
            step.ResetSums();
            step.Run();
            losses.Add((float)step.ReadMeans().Loss);
        }
        return tensor(losses.ToArray());
    }

    /// <summary>Largest absolute and relative-norm difference of <paramref name="actual"/> from <paramref name="expected"/>, in float64 on the CPU.</summary>
    public static ParityCheck Compare(string name, Tensor actual, Tensor expected, double bound)
    {
        using var scope = NewDisposeScope();
        var a = actual.detach().to(float64).cpu();
        var e = expected.detach().to(float64).cpu();
        var diff = a - e;
        double maxAbs = diff.abs().max().item<double>();
        double rel = diff.norm().item<double>() / Math.Max(e.norm().item<double>(), 1e-30);
        return new ParityCheck(name, maxAbs, rel, bound);
    }
}
