using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using UKan.Losses;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// Training a convolution → batch norm pair without the convolution's bias (<see cref="ConvBatchNorm"/>) against the
/// official computation, from the same weights and batches: the same outputs, gradients of every other parameter and of
/// the input, running statistics and evaluation-mode outputs; the biases get no gradient where the official computation
/// gives them rounding noise.
/// </summary>
public class ConvBatchNormTests
{
    const int Steps = 3;

    /// <summary>What one training-mode pass gave: the output, each parameter's gradient (null: none) and the input's.</summary>
    sealed record Pass(Tensor Output, Dictionary<string, Tensor?> Gradients, Tensor InputGradient);

    /// <summary>
    /// One training-mode pass of <paramref name="run"/> on <paramref name="x"/>, with the bias before each batch norm
    /// dropped or added as the official code does; gradients of <paramref name="loss"/>.
    /// </summary>
    static Pass Train(nn.Module module, Func<Tensor, Tensor> run, Func<Tensor, Tensor> loss, Tensor x, bool dropBias, FlatAdam? optimizer)
    {
        module.train();
        // As a training step does: gradients gathered into the optimizer's flat buffer, where a parameter without one
        // keeps a zero slice.
        if (optimizer is null) module.zero_grad();
        else optimizer.ReleaseGrads();
        var input = x.detach().clone().requires_grad_(true);
        var y = ConvBatchNorm.With(dropBias, () => run(input));
        loss(y).backward();
        optimizer?.GatherGrads();
        return new Pass(y.detach().clone(), module.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad?.detach().clone()),
            input.grad!.clone());
    }

    static double MaxAbs(Tensor t) => t.abs().max().to(float64).item<double>();

    /// <summary>
    /// <paramref name="actual"/> equals <paramref name="expected"/> to <paramref name="tolerance"/> of the largest expected value.
    /// </summary>
    static void AssertRelative(Tensor expected, Tensor actual, double tolerance, string what) =>
        TestTorch.AssertClose(expected, actual, atol: tolerance * Math.Max(MaxAbs(expected), 1e-30), rtol: tolerance, what);

    /// <summary>
    /// The official gradient of the bias <paramref name="name"/> is rounding noise, far below the gradient of its
    /// convolution's weight: what a bias that the batch mean cancels gets.
    /// </summary>
    internal static void AssertOfficialGradientIsNoise(IReadOnlyDictionary<string, Tensor?> officialGradients, string name, string what)
    {
        Assert.True(name.EndsWith(".bias") && officialGradients[name] is not null, $"{what}: {name} has no gradient");
        double noise = MaxAbs(officialGradients[name]!), scale = MaxAbs(officialGradients[name[..^"bias".Length] + "weight"]!);
        Assert.True(noise <= 1e-4 * scale, $"{what}: {name}'s official gradient {noise:G3} is not noise (its weight's up to {scale:G3})");
    }

    /// <summary>
    /// ‖actual − expected‖ ≤ <paramref name="tolerance"/>·‖expected‖: gradients, where one element's rounding may stand out
    /// (batch norms over a few values per channel amplify the order of float sums) while the tensor agrees.
    /// </summary>
    static void AssertRelativeNorm(Tensor expected, Tensor actual, double tolerance, string what)
    {
        var check = UKan.Diagnostics.DeviceParity.Compare(what, actual, expected, tolerance);
        Assert.True(check.Passed, $"{what}: relative difference {check.RelativeNorm:G3} (largest {check.MaxAbs:G3}) exceeds {tolerance}");
    }

    static bool IsZeroOrAbsent(Tensor? gradient) => gradient is null || gradient.eq(0).all().item<bool>();

    /// <summary>
    /// Trains <paramref name="official"/> and <paramref name="ours"/> (the same weights) side by side for
    /// <see cref="Steps"/> training-mode passes on fresh batches, then compares them in evaluation mode. Returns the names
    /// of the parameters the official computation gives a gradient and ours none: the biases before the batch norms.
    /// </summary>
    static HashSet<string> AssertSameTraining(nn.Module official, nn.Module ours, Func<nn.Module, Tensor, Tensor> run,
        Func<Tensor, Tensor> loss, Func<Generator, Tensor> batch, bool flatAdam = false, bool channelsLast = false)
    {
        static FlatAdam? Optimizer(nn.Module m, bool use, bool channelsLast) => use
            ? new FlatAdam(ParameterGroups.Official(m.named_parameters().Select(p => (p.name, p.parameter)).ToList()),
                channelsLast: channelsLast)
            : null;
        using var officialOpt = Optimizer(official, flatAdam, channelsLast);
        using var oursOpt = Optimizer(ours, flatAdam, channelsLast);
        var generator = new Generator(17);
        var dropped = new HashSet<string>();
        for (int step = 0; step < Steps; step++)
        {
            var x = batch(generator);
            var expected = Train(official, x1 => run(official, x1), loss, x, dropBias: false, officialOpt);
            var actual = Train(ours, x1 => run(ours, x1), loss, x, dropBias: true, oursOpt);
            AssertRelative(expected.Output, actual.Output, 1e-5, $"step {step}: output");
            AssertRelativeNorm(expected.InputGradient, actual.InputGradient, 1e-4, $"step {step}: input gradient");
            foreach (var (name, gradient) in actual.Gradients)
            {
                var reference = expected.Gradients[name];
                Assert.True(reference is not null, $"step {step}: {name} has no gradient in the official computation");
                if (IsZeroOrAbsent(gradient) && !IsZeroOrAbsent(reference) && name.EndsWith(".bias"))
                {
                    AssertOfficialGradientIsNoise(expected.Gradients, name, $"step {step}");
                    dropped.Add(name);
                    continue;
                }
                AssertRelativeNorm(reference!, gradient!, 1e-4, $"step {step}: gradient of {name}");
            }
        }
        var officialBuffers = official.named_buffers().ToDictionary(b => b.name, b => b.buffer);
        foreach (var (name, buffer) in ours.named_buffers())
        {
            if (name.EndsWith("num_batches_tracked")) Assert.Equal(officialBuffers[name].item<long>(), buffer.item<long>());
            else AssertRelative(officialBuffers[name], buffer, 1e-6, $"{name} after {Steps} steps");
        }
        official.eval();
        ours.eval();
        using (no_grad())
        {
            var x = batch(generator);
            AssertRelative(run(official, x), run(ours, x), 1e-5, "evaluation-mode output");
        }
        return dropped;
    }

    /// <summary>Random per-channel biases of both convolutions' size, so that leaving them out would show if it mattered.</summary>
    static void Perturb(nn.Module module, double? momentum)
    {
        using var _ = no_grad();
        foreach (var (_, m) in module.named_modules())
        {
            if (m is Conv2d conv) conv.bias!.copy_(randn_like(conv.bias) * 2);
            if (m is BatchNorm2d bn)
            {
                bn.weight.copy_(rand_like(bn.weight) + 0.5);
                bn.bias!.copy_(randn_like(bn.bias));
                bn.running_mean!.copy_(randn_like(bn.running_mean));
                bn.momentum = momentum;
            }
        }
    }

    static (T Official, T Ours) Twins<T>(Func<T> build, double? momentum = 0.1) where T : nn.Module
    {
        _ = TestTorch.Runtime;
        var official = build();
        Perturb(official, momentum);
        var ours = build();
        Perturb(ours, momentum);
        TestTorch.CopyState(official, ours);
        return (official, ours);
    }

    /// <summary>A fixed random weighting of the output (a plain sum of batch-normed values has no gradient).</summary>
    static Func<Tensor, Tensor> WeightedSum(params long[] shape)
    {
        var weights = randn(shape, generator: new Generator(5));
        return y => (y * weights).sum();
    }

    [Theory]
    [InlineData(false, 0.1)]
    [InlineData(true, 0.1)]
    [InlineData(false, null)]
    public void DoubleConv_without_the_biases_trains_as_the_official_computation(bool channelsLast, double? momentum)
    {
        var (official, ours) = Twins(() => DoubleConv.Encoder(3, 6), momentum);
        Tensor Batch(Generator g)
        {
            var x = randn(4, 3, 12, 10, generator: g) * 1.5 + 0.3;
            return channelsLast ? x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : x;
        }
        var dropped = AssertSameTraining(official, ours, (m, x) => ((DoubleConv)m).call(x), WeightedSum(4, 6, 12, 10), Batch,
            flatAdam: true, channelsLast: channelsLast);
        // A cumulative average (momentum null) keeps the official computation.
        Assert.Equal(momentum is null ? [] : ["conv.0.bias", "conv.3.bias"], dropped.Order());
    }

    [Fact]
    public void The_depthwise_conv_of_a_KAN_layer_without_its_bias_trains_as_the_official_computation()
    {
        var (official, ours) = Twins(() => new DwBnRelu(5, ConvFactories.Conv2d));
        const long h = 6, w = 7;
        var dropped = AssertSameTraining(official, ours, (m, tokens) => ((DwBnRelu)m).call(tokens, h, w), WeightedSum(3, h * w, 5),
            g => randn(3, h * w, 5, generator: g) - 0.4);
        Assert.Equal(["dwconv.bias"], dropped);
    }

    /// <remarks>
    /// In float64: in float32 the official computation's own rounding (b added, then the batch mean subtracted) is
    /// amplified by the batch norms of the deep stages, which see 8 values per channel here, to output differences of
    /// up to 1.8e-5 of the largest logit and input-gradient differences of up to 4 % (relative norm) over 12 random
    /// initialisations; in float64
    /// both computations agree to the bounds below, which a missing term would break by far.
    /// </remarks>
    [Fact]
    public void Tiny_UKan_without_the_biases_before_its_28_batch_norms_trains_as_the_official_computation()
    {
        var spec = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" };
        var (official, ours) = Twins(() => (SegUKan)ModelFactory.Create(spec));
        official.to(float64);
        ours.to(float64);
        var target = (rand(2, 1, 64, 64, generator: new Generator(3)) > 0.6).to(float64);
        var lossFn = new BceDiceLoss();
        var dropped = AssertSameTraining(official, ours, (m, x) => ((SegUKan)m).call(x), y => lossFn.call(y, target),
            g => randn(2, 3, 64, 64, generator: g, dtype: float64));
        // ConvLayer and D_ConvLayer (two each: 3 encoder and 5 decoder stages) and three DW_bn_relu in each of 4 KAN blocks.
        Assert.Equal(2 * (3 + 5) + 3 * 4, dropped.Count);
        Assert.All(dropped, name =>
            Assert.Matches(@"^(encoder\d\.conv\.[03]|decoder\d\.conv\.[03]|d?block\d\.0\.layer\.dwconv_\d\.dwconv)\.bias$", name));
    }

    [Fact]
    public void Evaluation_mode_and_other_convolutions_keep_the_official_computation()
    {
        _ = TestTorch.Runtime;
        var plain = DoubleConv.Encoder(2, 3);
        plain.eval();
        var x = randn(2, 2, 5, 5, requires_grad: true);
        ConvBatchNorm.With(true, () => plain.call(x)).sum().backward();
        // In evaluation mode the bias shifts the output, so it must be added and get its gradient.
        Assert.All(plain.named_parameters().Where(p => p.name.EndsWith(".bias")),
            p => Assert.False(IsZeroOrAbsent(p.parameter.grad), p.name));

        var withoutBias = nn.Conv2d(2, 3, 3, padding: 1, bias: false);
        var reflected = nn.Conv2d(2, 3, 3, padding: 1, padding_mode: PaddingModes.Reflect, bias: true);
        foreach (var conv in new[] { withoutBias, reflected })
        {
            var bn = nn.BatchNorm2d(3);
            var y = ConvBatchNorm.With(true, () => ConvBatchNorm.Forward(conv, bn, x));
            (y * randn_like(y)).sum().backward();
            if (conv.bias is not null) Assert.NotNull(conv.bias.grad);
            Assert.NotNull(conv.weight!.grad);
        }
    }

    [Fact]
    public void UKAN_BIAS_BEFORE_BN_official_adds_the_bias_in_training()
    {
        _ = TestTorch.Runtime;
        var block = DoubleConv.Encoder(2, 3);
        block.train();
        var x = randn(2, 2, 4, 4);
        var before = Environment.GetEnvironmentVariable(ConvBatchNorm.EnvironmentVariable);
        Tensor y;
        bool drops;
        // Only the forward runs with the variable set: other tests in parallel see it for as short a time as possible.
        Environment.SetEnvironmentVariable(ConvBatchNorm.EnvironmentVariable, ConvBatchNorm.Official);
        try { (drops, y) = (ConvBatchNorm.DropsBias(DeviceType.CUDA), block.call(x)); }
        finally { Environment.SetEnvironmentVariable(ConvBatchNorm.EnvironmentVariable, before); }
        Assert.False(drops);
        (y * randn_like(y)).sum().backward();
        Assert.All(block.named_parameters().Where(p => p.name.EndsWith(".bias")), p => Assert.NotNull(p.parameter.grad));
        Assert.True(ConvBatchNorm.IsOfficial(" Official "));
        Assert.False(ConvBatchNorm.IsOfficial(null));
        Assert.False(ConvBatchNorm.IsOfficial("off"));
    }

    [Theory]
    [InlineData(null, DeviceType.CUDA, true)]
    [InlineData(null, DeviceType.CPU, false)]           // the CPU keeps the official rounding unless asked
    [InlineData("dropped", DeviceType.CPU, true)]
    [InlineData(" Dropped ", DeviceType.CUDA, true)]
    [InlineData("official", DeviceType.CUDA, false)]
    [InlineData("official", DeviceType.CPU, false)]
    [InlineData("anything else", DeviceType.CPU, false)]
    public void The_bias_is_left_out_by_default_on_CUDA_only(string? variable, DeviceType device, bool drops) =>
        Assert.Equal(drops, ConvBatchNorm.DropsBias(variable, device));
}
