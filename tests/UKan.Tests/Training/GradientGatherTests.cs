using TorchSharp;
using TorchSharp.Modules;
using UKan.Losses;
using UKan.Models;
using UKan.Native;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Training;

/// <summary>
/// Gradients gathered into FlatAdam's flat buffers after backward (autograd hands each parameter its new gradient
/// tensor while <c>.grad</c> is undefined) against gradients accumulated into the buffers during backward: the same
/// training steps to the bit, <c>.grad</c> the flat view again after every step, zeros for a parameter backward never
/// reaches.
/// </summary>
public class GradientGatherTests
{
    public static TheoryData<string> Models => ["ukan", "unet"];

    static ModelSpec Spec(string model) => model switch
    {
        "ukan" => new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" },
        _ => new ModelSpec { Architecture = Architecture.UNet }.WithOptions(new ConvUNetOptions { Width = 8 }),
    };

    /// <summary>A model, its optimizer (over its parameters and one that no forward pass uses) and its training step.</summary>
    sealed class Run : IDisposable
    {
        public required nn.Module<Tensor, Tensor> Model { get; init; }
        public required FlatAdam Optimizer { get; init; }
        public required TrainingStep Step { get; init; }
        public required Parameter Unused { get; init; }
        public void Dispose() { Step.Dispose(); Optimizer.Dispose(); }
    }

    static Run Start(string model, nn.Module<Tensor, Tensor>? weightsFrom, bool gather)
    {
        _ = TestTorch.Runtime;
        var net = ModelFactory.Create(Spec(model));
        if (weightsFrom is not null) TestTorch.CopyState(weightsFrom, net);
        var unused = new Parameter(ones(3, 5));
        var named = net.named_parameters().Select(p => (p.name, p.parameter)).Append(("unused.weight", unused)).ToList();
        // Weight decay and both groups: every update path of the optimizer runs on the gathered gradients.
        var optimizer = new FlatAdam(ParameterGroups.Official(named, lr: 1e-3, weightDecay: 1e-4, kanLr: 1e-2, kanWeightDecay: 1e-4));
        var step = new TrainingStep(net, optimizer, new BceDiceLoss(), 2, 3, 1, 32, 32, CPU, graphs: false, channelsLast: false,
            gatherGradients: gather);
        return new Run { Model = net, Optimizer = optimizer, Step = step, Unused = unused };
    }

    static IEnumerable<(string Name, Parameter Parameter, Tensor View)> Members(FlatAdam optimizer) =>
        optimizer.Groups.SelectMany(g => g.Members.Select((m, i) => (m.Name, m.Parameter, g.GradViews[i])));

    [Theory]
    [MemberData(nameof(Models))]
    public void Gathered_and_accumulated_steps_are_identical_and_grad_stays_the_flat_view(string model)
    {
        using var accumulated = Start(model, null, gather: false);
        using var gathered = Start(model, accumulated.Model, gather: true);
        Assert.True(gathered.Step.GathersGradients);
        Assert.False(accumulated.Step.GathersGradients);
        var gen = new Generator(5);
        var x = randn(2, 3, 32, 32, generator: gen);
        var t = (rand(2, 1, 32, 32, generator: gen) > 0.6).to(float32);
        var addresses = Members(gathered.Optimizer).ToDictionary(m => m.Name, m => TensorPointer.Of(m.View));

        for (int i = 0; i < 3; i++)
        {
            foreach (var run in new[] { accumulated, gathered })
            {
                using (no_grad())
                {
                    run.Step.Images.copy_(x);
                    run.Step.Targets.copy_(t);
                    // Leftovers in the buffer would show up in the slice of the parameter without a gradient.
                    foreach (var g in run.Optimizer.Groups) g.Grads.fill_(7f);
                    run.Optimizer.GradsWrittenElsewhere();
                }
                run.Step.Run();
            }
            foreach (var ((name, a, _), (_, b, view)) in Members(accumulated.Optimizer).Zip(Members(gathered.Optimizer)))
            {
                // Adding a gradient into zeros and copying it give the same floats: equal, not merely close.
                Assert.True(a.grad!.equal(b.grad!).all().item<bool>(), $"step {i}: gradient of {name} differs");
                Assert.True(a.equal(b).all().item<bool>(), $"step {i}: {name} after the update differs");
                using var grad = b.grad!;
                Assert.Equal(addresses[name], TensorPointer.Of(grad));
                Assert.Equal(view.storage_offset(), grad.storage_offset());
                Assert.Equal(view.stride(), grad.stride());
            }
            Assert.Equal(0f, gathered.Unused.grad!.abs().max().item<float>());
            Assert.Equal(0f, accumulated.Unused.grad!.abs().max().item<float>());
            Assert.True(gathered.Optimizer.Groups.All(g => g.Grads.abs().sum().item<float>() > 0), "every group got gradients");
        }
        foreach (var ((name, a, _), (_, b, _)) in Members(accumulated.Optimizer).Zip(Members(gathered.Optimizer)))
            Assert.True(a.equal(b).all().item<bool>(), $"{name} differs after three steps");
        Assert.True(accumulated.Step.ReadMeans() == gathered.Step.ReadMeans(), "the logged loss and IoU differ");
    }

    [Fact]
    public void A_gradient_laid_out_unlike_its_parameter_is_still_copied_element_for_element()
    {
        _ = TestTorch.Runtime;
        var conv = nn.Conv2d(3, 4, 3);
        using var optimizer = new FlatAdam(ParameterGroups.Official(conv.named_parameters().Select(p => (p.name, p.parameter)).ToList()),
            channelsLast: true);
        var weight = conv.named_parameters().Single(p => p.name == "weight").parameter;
        var expected = arange(weight.numel(), dtype: float32).reshape(weight.shape);   // contiguous, the weight is NHWC
        Assert.False(UKan.Layers.TensorLayout.SameMemoryOrder(weight, expected));
        optimizer.ReleaseGrads();
        Assert.Null(weight.grad);
        weight.grad = expected;
        optimizer.GatherGrads();
        using var grad = weight.grad!;
        Assert.True(grad.equal(expected).all().item<bool>());
        Assert.Equal(weight.stride(), grad.stride());
        Assert.True(UKan.Layers.TensorLayout.SameMemoryOrder(weight, grad));
        // The bias got no gradient: its slice holds zeros.
        var bias = conv.named_parameters().Single(p => p.name == "bias").parameter;
        Assert.Equal(0f, bias.grad!.abs().max().item<float>());
    }

    [Fact]
    public void A_gradient_whose_strides_differ_only_in_a_size_one_dimension_is_one_run_of_its_parameter_s_slice()
    {
        // A depth-wise weight (C, 1, 3, 3) placed channels-last has strides (9, 1, 3, 1); the gradient cuDNN returns may
        // have another stride in the size-1 dimension, which AccumulateGrad accepts. The gather copies both as 1-D runs.
        _ = TestTorch.Runtime;
        var conv = nn.Conv2d(4, 4, 3, groups: 4);
        using var optimizer = new FlatAdam(ParameterGroups.Official(conv.named_parameters().Select(p => (p.name, p.parameter)).ToList()),
            channelsLast: true);
        var weight = conv.named_parameters().Single(p => p.name == "weight").parameter;
        var (_, _, offset) = optimizer.Groups.SelectMany(g => g.Members).Single(m => m.Name == "weight");
        var flat = optimizer.Groups.Single(g => g.Members.Any(m => m.Name == "weight")).Grads.narrow(0, offset, weight.numel());
        using var values = arange(weight.numel(), dtype: float32);
        var grad = values.as_strided(weight.shape, [9, 9, 3, 1]);                // contiguous: size-1 dimension's stride 9
        Assert.NotEqual(weight.stride(), grad.stride());
        Assert.True(UKan.Layers.TensorLayout.SameMemoryOrder(weight, grad));
        // The run of the gradient is the values in the order the weight's slice of the flat buffer holds them.
        flat.zero_();
        ((Tensor)weight.grad!).copy_(grad);
        Assert.True(FlatAdam.AsRun(grad).equal(flat).all().item<bool>());
        // Not the same order: channels-last against NCHW with more than one input channel.
        var full = nn.Conv2d(2, 4, 3);
        using var dense = zeros(4, 2, 3, 3);
        Assert.False(UKan.Layers.TensorLayout.SameMemoryOrder(full.weight!.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2), dense));
    }

    /// <summary>
    /// The gather does not zero the whole buffer: it overwrites the slices of parameters that got a gradient and zeroes
    /// the others' only where a previous gather wrote them (a parameter used in one step, not in the next).
    /// </summary>
    [Fact]
    public void A_parameter_without_a_gradient_this_step_has_a_zero_gradient_even_if_it_had_one_before()
    {
        _ = TestTorch.Runtime;
        var (a, b) = (new Parameter(ones(3)), new Parameter(ones(5)));
        using var optimizer = new FlatAdam([(new GroupSettings("all", 1e-3, 0), [("a", a), ("b", b)])]);
        var grads = optimizer.Groups[0].Grads;
        void Step(bool useB)
        {
            optimizer.ReleaseGrads();
            ((a * 2).sum() + (useB ? (b * 3).sum() : zeros(1).sum())).backward();
            optimizer.GatherGrads();
        }
        Step(useB: true);
        Assert.True(b.grad!.equal(full(5, 3f)).all().item<bool>());
        Step(useB: false);
        Assert.True(a.grad!.equal(full(3, 2f)).all().item<bool>());
        Assert.True(b.grad!.equal(zeros(5)).all().item<bool>(), "b got no gradient this step: its slice is zeroed");
        // Only the two slices were ever written: the gaps of the buffer are zero.
        var (_, _, offsetB) = optimizer.Groups[0].Members[1];
        Assert.Equal(0f, grads.narrow(0, 3, offsetB - 3).abs().sum().item<float>());
        Assert.Equal(0f, grads.narrow(0, offsetB + 5, grads.numel() - offsetB - 5).abs().sum().item<float>());
    }

    [Fact]
    public void A_step_on_released_gradients_that_were_not_gathered_is_refused()
    {
        _ = TestTorch.Runtime;
        var p = new Parameter(ones(4));
        using var optimizer = new FlatAdam([(new GroupSettings("all", 1e-3, 0), [("p", p)])]);
        optimizer.ReleaseGrads();
        (p * p).sum().backward();
        Assert.Throws<InvalidOperationException>(() => optimizer.Step());
        optimizer.GatherGrads();
        optimizer.Step();
        Assert.Equal(2f, optimizer.Groups[0].Grads[0].item<float>());
    }

    [Theory]
    [InlineData(false, null, true)]
    [InlineData(false, "on", true)]
    [InlineData(false, "off", false)]
    [InlineData(false, " OFF ", false)]
    [InlineData(false, "0", false)]
    // The data-parallel all-reduce overlapped with backward reads each slice when its gradient is accumulated.
    [InlineData(true, null, false)]
    [InlineData(true, "on", false)]
    public void Gathering_is_the_default_except_where_accumulation_is_hooked_or_turned_off(bool hooked, string? variable, bool gather) =>
        Assert.Equal(gather, FlatAdam.ShouldGather(hooked, variable));
}
