using TorchSharp;
using TorchSharp.Modules;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Training;

public class FlatAdamTests
{
    static nn.Module<Tensor, Tensor> Net(long seed)
    {
        _ = TestTorch.Runtime;
        return nn.Sequential(("layer_fc", nn.Linear(5, 7)), ("act", nn.Tanh()), ("head", nn.Linear(7, 2)));
    }

    /// <summary>Two networks with identical weights (copied, since tests run in parallel and share torch's global RNG).</summary>
    static (nn.Module<Tensor, Tensor>, nn.Module<Tensor, Tensor>) Twins()
    {
        var a = Net(0);
        var b = Net(0);
        TestTorch.CopyState(a, b);
        return (a, b);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Matches_torch_Adam_and_AdamW_step_for_step(bool decoupled)
    {
        var (ours, reference) = Twins();
        var named = ours.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        var groups = ParameterGroups.Official(named, lr: 1e-3, weightDecay: 1e-2, kanLr: 5e-2, kanWeightDecay: 1e-3);
        using var flat = new FlatAdam(groups, decoupledWeightDecay: decoupled);

        var refParams = reference.named_parameters().ToList();
        var refGroups = new[]
        {
            refParams.Where(p => ParameterGroups.IsKanWeight(p.name)).Select(p => p.parameter),
            refParams.Where(p => !ParameterGroups.IsKanWeight(p.name)).Select(p => p.parameter),
        };
        OptimizerHelper torchOpt = decoupled
            ? torch.optim.AdamW([new AdamW.ParamGroup(refGroups[0], new AdamW.Options { LearningRate = 5e-2, weight_decay = 1e-3 }),
                                 new AdamW.ParamGroup(refGroups[1], new AdamW.Options { LearningRate = 1e-3, weight_decay = 1e-2 })])
            : torch.optim.Adam([new Adam.ParamGroup(refGroups[0], new Adam.Options { LearningRate = 5e-2, weight_decay = 1e-3 }),
                                new Adam.ParamGroup(refGroups[1], new Adam.Options { LearningRate = 1e-3, weight_decay = 1e-2 })]);

        var g = new Generator(11);
        var x = randn(16, 5, generator: g);
        var y = randn(16, 2, generator: g);
        for (int step = 0; step < 5; step++)
        {
            flat.ZeroGrad();
            (ours.call(x) - y).pow(2).mean().backward();
            flat.Step();
            torchOpt.zero_grad();
            (reference.call(x) - y).pow(2).mean().backward();
            torchOpt.step();
        }
        foreach (var ((name, a), (_, b)) in ours.named_parameters().Zip(reference.named_parameters()))
            TestTorch.AssertClose(b, a, atol: 1e-6, rtol: 1e-5, what: name);
    }

    [Fact]
    public void Capturable_mode_takes_the_same_steps_with_device_scalars()
    {
        var (a, b) = Twins();
        using var plain = new FlatAdam(ParameterGroups.Official(a.named_parameters().Select(p => (p.name, p.parameter)).ToList()));
        using var capturable = new FlatAdam(ParameterGroups.Official(b.named_parameters().Select(p => (p.name, p.parameter)).ToList()), capturable: true);
        AssertSameSteps(a, plain, b, capturable, randn(8, 5), steps: 4,
            (step, opt) => { foreach (var g in opt.Groups) g.LearningRate = 1e-2 / (step + 1); });
    }

    /// <summary>Trains two copies of a network side by side, one optimizer each, and asserts equal parameters after.</summary>
    static void AssertSameSteps(nn.Module<Tensor, Tensor> a, FlatAdam optA, nn.Module<Tensor, Tensor> b, FlatAdam optB, Tensor x,
        int steps, Action<int, FlatAdam>? beforeStep = null)
    {
        for (int step = 0; step < steps; step++)
            foreach (var (net, opt) in new[] { (a, optA), (b, optB) })
            {
                beforeStep?.Invoke(step, opt);
                opt.ZeroGrad();
                net.call(x).pow(2).mean().backward();
                opt.Step();
            }
        foreach (var ((name, pa), (_, pb)) in a.named_parameters().Zip(b.named_parameters()))
            TestTorch.AssertClose(pa, pb, atol: 1e-6, rtol: 1e-5, what: name);
    }

    [Fact]
    public void Gradients_accumulate_into_the_flat_buffer_and_parameters_are_views_of_it()
    {
        var net = Net(3);
        var named = net.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        using var flat = new FlatAdam(ParameterGroups.Official(named));
        net.call(randn(4, 5)).sum().backward();
        var group = flat.Groups.Single(g => g.Settings.Name == "base");
        Assert.True(group.Grads.abs().sum().item<float>() > 0);
        var (_, p, offset) = group.Members[0];
        using (no_grad()) p.fill_(3.0f);
        Assert.Equal(3.0f, group.Params[offset].item<float>());
        Assert.Equal(["kan", "base"], flat.Groups.Select(g => g.Settings.Name).ToArray());
        Assert.Equal(2, flat.Groups[0].Members.Count); // layer_fc.weight and layer_fc.bias
    }

    [Fact]
    public void Every_parameter_starts_on_a_256_byte_boundary_and_the_gaps_stay_zero()
    {
        // Sizes like ALL U-KAN's ψ (10 scalars) and Linear(5, 7) (35, 7): packed back to back they would start at
        // 8-byte offsets, which cuDNN's batch norm rejects on CUDA.
        var net = nn.Sequential(("layer_fc", nn.Linear(5, 7)), ("psi", new UKan.Layers.SharedActivation()), ("head", nn.Linear(7, 2)));
        var named = net.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        using var flat = new FlatAdam(ParameterGroups.Official(named, weightDecay: 1e-2));
        foreach (var g in flat.Groups)
            foreach (var (name, p, offset) in g.Members)
            {
                Assert.Equal(0, p.storage_offset() * p.ElementSize % FlatAdam.AlignBytes);
                Assert.Equal(offset, p.storage_offset());
            }
        var x = randn(6, 5);
        for (int step = 0; step < 3; step++)
        {
            flat.ZeroGrad();
            net.call(x).pow(2).sum().backward();
            flat.Step();
        }
        foreach (var g in flat.Groups)
        {
            using var used = zeros_like(g.Params, dtype: ScalarType.Bool);
            foreach (var (_, p, offset) in g.Members) used.narrow(0, offset, p.numel()).fill_(true);
            Assert.Equal(0f, g.Params.masked_select(used.logical_not()).abs().sum().item<float>());
            Assert.True(g.Params.masked_select(used).abs().sum().item<float>() > 0);
        }
    }

    [Fact]
    public void Channels_last_layout_gives_conv_weights_NHWC_strides_and_the_same_steps()
    {
        _ = TestTorch.Runtime;
        nn.Module<Tensor, Tensor> Conv() => nn.Sequential(("conv", nn.Conv2d(3, 5, 3, padding: 1)), ("act", nn.ReLU()), ("head", nn.Conv2d(5, 1, 1)));
        var (a, b) = (Conv(), Conv());
        TestTorch.CopyState(a, b);
        using var plain = new FlatAdam(ParameterGroups.Official(a.named_parameters().Select(p => (p.name, p.parameter)).ToList()));
        using var nhwc = new FlatAdam(ParameterGroups.Official(b.named_parameters().Select(p => (p.name, p.parameter)).ToList()), channelsLast: true);
        var w = b.named_parameters().Single(p => p.name == "conv.weight").parameter;
        Assert.Equal(new long[] { 27, 1, 9, 3 }, w.stride());          // (out, in, kh, kw) = (5, 3, 3, 3) stored as (out, kh, kw, in)
        Assert.Equal(w.stride(), w.grad!.stride());
        AssertSameSteps(a, plain, b, nhwc, randn(2, 3, 8, 8), steps: 3);
    }

    [Fact]
    public void Optimizer_state_written_packed_before_alignment_is_restored_member_by_member()
    {
        var (a, b) = Twins();
        using var original = new FlatAdam(ParameterGroups.Official(a.named_parameters().Select(p => (p.name, p.parameter)).ToList()));
        var x = randn(8, 5);
        for (int step = 0; step < 2; step++)
        {
            original.ZeroGrad();
            a.call(x).pow(2).mean().backward();
            original.Step();
        }
        // The old layout: each group's members back to back, in the same order.
        var packed = original.StateTensors().ToDictionary(t => t.Name, t =>
        {
            var g = original.Groups.Single(g => t.Name.StartsWith($"optimizer.{g.Settings.Name}."));
            return cat(g.Members.Select(m => t.Value.narrow(0, m.Offset, m.Parameter.numel())).ToArray());
        });
        Assert.Contains(packed, kv => kv.Value.numel() < original.StateTensors().Single(t => t.Name == kv.Key).Value.numel());
        using var restored = new FlatAdam(ParameterGroups.Official(b.named_parameters().Select(p => (p.name, p.parameter)).ToList()));
        restored.LoadState(packed, original.StepCount);
        foreach (var ((name, expected), (_, actual)) in original.StateTensors().Zip(restored.StateTensors()))
            TestTorch.AssertClose(expected, actual, atol: 0, rtol: 0, what: name);
    }

    [Fact]
    public void Cosine_schedule_matches_the_closed_form_of_the_reference()
    {
        Assert.Equal(1e-2, LearningRateSchedules.Cosine(1e-2, 0, 400, 1e-5), 12);
        Assert.Equal(5.005e-3, LearningRateSchedules.Cosine(1e-2, 200, 400, 1e-5), 12);
        Assert.Equal(5.5e-5, LearningRateSchedules.Cosine(1e-4, 200, 400, 1e-5), 12);
        Assert.Equal(1e-5, LearningRateSchedules.Cosine(1e-4, 400, 400, 1e-5), 12);
    }
}
