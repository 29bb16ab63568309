using TorchSharp;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Layers;

public class KaLinearTests
{
    static KaLinear Make(int inF, int outF, bool bias = true, SprecherShiftOptions? shift = null, SplineGradient gradient = SplineGradient.GradFree)
    {
        _ = TestTorch.Runtime;
        manual_seed(11);
        return new KaLinear(inF, outF, bias, new SharedActivationOptions { Gradient = gradient }, shift);
    }

    [Fact]
    public void Is_a_linear_map_of_psi_on_any_leading_shape()
    {
        var layer = Make(7, 5);
        var x = randn(2, 3, 7);
        var y = layer.call(x);
        Assert.Equal([2L, 3, 5], y.shape);
        TestTorch.AssertClose(F.linear(layer.Activation.call(x), layer.Weight, layer.Bias), y, atol: 1e-6, what: "y");
        TestTorch.AssertClose(F.linear(F.silu(x), layer.Weight, layer.Bias), y, atol: 0.01 * 7 * layer.Weight.abs().max().item<float>(), what: "starts near a SiLU MLP");
    }

    [Fact]
    public void Has_the_parameters_of_the_linear_it_replaces_plus_ten()
    {
        var layer = Make(160, 160);
        Assert.Equal(["act.base_scale", "act.coef", "act.spline_scale", "bias", "weight"], layer.state_dict().Keys.Order().ToArray());
        Assert.Equal(160 * 160 + 160 + 10, ModelFactory.CountParameters(layer));
        Assert.Equal(160 * 160 + 10, ModelFactory.CountParameters(Make(160, 160, bias: false)));
        // nn.Linear's default initialisation: kaiming-uniform a = √5 and bias, both bounded by 1/√in.
        var bound = 1 / Math.Sqrt(160);
        Assert.InRange(layer.Weight.abs().max().item<float>(), 0.95 * bound, bound);
        Assert.InRange(layer.Bias!.abs().max().item<float>(), 0.9 * bound, bound);
    }

    [Fact]
    public void Sprecher_shift_evaluates_psi_at_x_plus_eta_for_every_output()
    {
        var layer = Make(6, 4, shift: new SprecherShiftOptions { Mode = ShiftMode.Learnable });
        var eta = layer.Shift!;
        TestTorch.AssertClose(tensor(new[] { 0f, 0.5f, 1f, 1.5f }), eta, atol: 1e-7, what: "η_q = η·q, η = range/out");
        var x = randn(3, 6);
        var y = layer.call(x);
        Assert.Equal([3L, 4], y.shape);
        var expected = zeros(3, 4);
        for (int q = 0; q < 4; q++)
            expected[.., q] = F.linear(layer.Activation.call(x + eta[q]), layer.Weight[q].unsqueeze(0), layer.Bias![q].unsqueeze(0)).squeeze(1);
        TestTorch.AssertClose(expected, y, atol: 1e-6, what: "y_q");
        Assert.Equal(6 * 4 + 4 + 10 + 4, ModelFactory.CountParameters(layer));
    }

    [Theory]
    [InlineData(SplineGradient.GradFree)]
    [InlineData(SplineGradient.Exact)]
    [InlineData(SplineGradient.GradFreeRecompute)]
    public void Learnable_shift_receives_gradients(SplineGradient gradient)
    {
        var layer = Make(5, 3, shift: new SprecherShiftOptions { Mode = ShiftMode.Learnable }, gradient: gradient);
        var x = randn(8, 5).requires_grad_(true);
        layer.call(x).pow(2).sum().backward();
        foreach (var (name, p) in layer.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} has no gradient");
        Assert.True(x.grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Fixed_shift_is_a_buffer_and_a_zero_step_is_the_plain_layer()
    {
        var fixedShift = Make(5, 3, shift: new SprecherShiftOptions { Mode = ShiftMode.Fixed, Step = 0.1 });
        Assert.Contains("shift", fixedShift.state_dict().Keys);
        Assert.DoesNotContain(fixedShift.named_parameters(), p => p.name == "shift");
        TestTorch.AssertClose(tensor(new[] { 0f, 0.1f, 0.2f }), fixedShift.Shift!, atol: 1e-7, what: "η·q");

        var zero = Make(5, 3, shift: new SprecherShiftOptions { Mode = ShiftMode.Fixed, Step = 0 });
        var plain = Make(5, 3);
        TestTorch.CopyState(plain, zero);
        var x = randn(4, 5);
        TestTorch.AssertClose(plain.call(x), zero.call(x), atol: 1e-6, what: "η = 0");
    }

    [Theory]
    [InlineData(ShiftMode.None)]
    [InlineData(ShiftMode.Learnable)]
    [InlineData(ShiftMode.Fixed)]
    public void Moves_with_the_module_including_the_shift(ShiftMode mode)
    {
        var layer = Make(4, 3, shift: new SprecherShiftOptions { Mode = mode });
        layer.to(float64);
        Assert.All(layer.state_dict().Values, t => Assert.Equal(float64, t.dtype));
        if (mode != ShiftMode.None) Assert.Equal(float64, layer.Shift!.dtype);
        Assert.Equal(float64, layer.call(randn(2, 4, dtype: float64)).dtype);
    }

    [Fact]
    public void Layers_can_share_one_psi_and_list_its_parameters_once()
    {
        _ = TestTorch.Runtime;
        var psi = new SharedActivation();
        var net = nn.Sequential(("a", new KaLinear(4, 4, sharedActivation: psi)), ("b", new KaLinear(4, 4, sharedActivation: psi)));
        Assert.Equal(2 * (16 + 4) + 10, ModelFactory.CountParameters(net));
        net.call(randn(3, 4)).sum().backward();
        Assert.True(psi.Coefficients.grad!.abs().sum().item<float>() > 0);
    }
}

public class KaConv2dTests
{
    static KaConv2d Make(int inC, int outC, int k, int stride = 1, int padding = 0, int dilation = 1, int groups = 1,
        KaPadding mode = KaPadding.AfterActivation)
    {
        _ = TestTorch.Runtime;
        manual_seed(13);
        return new KaConv2d(inC, outC, k, stride, padding, dilation, groups, paddingMode: mode);
    }

    [Theory]
    [InlineData(4, 6, 3, 1, 1, 1, 1)]      // U-KAN's 3×3 conv
    [InlineData(4, 6, 3, 2, 1, 1, 1)]      // patch embedding: stride 2
    [InlineData(6, 6, 3, 1, 1, 1, 6)]      // depthwise
    [InlineData(4, 1, 1, 1, 0, 1, 1)]      // head: 1×1
    [InlineData(4, 4, 3, 1, 2, 2, 2)]      // dilation and groups
    public void Is_conv2d_of_psi_with_zero_padding_after_psi(int inC, int outC, int k, int stride, int padding, int dilation, int groups)
    {
        var layer = Make(inC, outC, k, stride, padding, dilation, groups);
        var x = randn(2, inC, 9, 10) * 1.5;
        var y = layer.call(x);
        var expected = F.conv2d(layer.Activation.call(x), layer.Weight, layer.Bias, [stride, stride], [padding, padding], [dilation, dilation], groups);
        TestTorch.AssertClose(expected, y, atol: 1e-5, what: "y");
        // Padding after ψ: the same as padding ψ(X) with zeros and convolving without padding.
        var padded = F.pad(layer.Activation.call(x), [padding, padding, padding, padding]);
        TestTorch.AssertClose(F.conv2d(padded, layer.Weight, layer.Bias, [stride, stride], [0, 0], [dilation, dilation], groups), y, atol: 1e-5, what: "padding");
    }

    [Fact]
    public void Padding_before_psi_changes_only_the_border()
    {
        var after = Make(3, 5, 3, padding: 1);
        var before = Make(3, 5, 3, padding: 1, mode: KaPadding.BeforeActivation);
        TestTorch.CopyState(after, before);
        var x = randn(1, 3, 8, 8);
        var a = after.call(x);
        var b = before.call(x);
        TestTorch.AssertClose(F.conv2d(before.Activation.call(F.pad(x, [1, 1, 1, 1])), before.Weight, before.Bias), b, atol: 1e-5, what: "before");
        TestTorch.AssertClose(a[.., .., 1..^1, 1..^1], b[.., .., 1..^1, 1..^1], atol: 1e-6, what: "interior");
        Assert.True((a - b).abs().max().item<float>() > 1e-6, "ψ(0) = w_s·s(0) ≠ 0 shows at the border");
    }

    [Fact]
    public void Has_the_parameters_of_the_conv_it_replaces_plus_ten()
    {
        var layer = Make(16, 32, 3, padding: 1);
        Assert.Equal(["act.base_scale", "act.coef", "act.spline_scale", "bias", "weight"], layer.state_dict().Keys.Order().ToArray());
        Assert.Equal(ModelFactory.CountParameters(nn.Conv2d(16, 32, 3)) + 10, ModelFactory.CountParameters(layer));
        Assert.Equal(ModelFactory.CountParameters(nn.Conv2d(160, 160, 3, groups: 160)) + 10, ModelFactory.CountParameters(Make(160, 160, 3, groups: 160)));
        var bound = 1 / Math.Sqrt(16 * 9);
        Assert.InRange(layer.Weight.abs().max().item<float>(), 0.9 * bound, bound);
    }

    [Fact]
    public void Official_init_leaves_lambda_alone_unless_asked()
    {
        var layer = Make(8, 16, 3, padding: 1);
        var net = nn.Sequential(("0", layer));
        var before = layer.Weight.detach().clone();
        OfficialInit.Apply(net);
        TestTorch.AssertClose(before, layer.Weight, atol: 0, rtol: 0, what: "untouched");
        OfficialInit.Apply(net, kaLambdas: true);
        // normal(0, √(2/fan_out)), fan_out = 3·3·16.
        Assert.InRange(layer.Weight.std().item<float>(), 0.8 * Math.Sqrt(2.0 / 144), 1.2 * Math.Sqrt(2.0 / 144));
        Assert.Equal(0f, layer.Bias!.abs().sum().item<float>());
    }

    [Fact]
    public void Gradients_reach_lambda_bias_psi_and_the_input()
    {
        var layer = Make(3, 4, 3, 2, 1, 1, 1);
        var x = randn(2, 3, 8, 8).requires_grad_(true);
        layer.call(x).pow(2).sum().backward();
        foreach (var (name, p) in layer.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} has no gradient");
        Assert.True(x.grad!.abs().sum().item<float>() > 0);
    }
}

public class KanConv2dTests
{
    /// <summary>A KAN conv whose splines are zero and whose base activation is the identity is a bias-free Conv2d.</summary>
    static KanConv2d Linearised(int inC, int outC, int k, int stride, int padding, int dilation, int groups)
    {
        _ = TestTorch.Runtime;
        manual_seed(17);
        var layer = new KanConv2d(inC, outC, k, stride, padding, dilation, groups, new KanLinearOptions { BaseActivation = BaseActivation.Identity });
        using (no_grad()) layer.Kan.SplineWeight.zero_();
        return layer;
    }

    [Theory]
    [InlineData(4, 6, 3, 1, 1, 1, 1)]
    [InlineData(4, 6, 3, 2, 1, 1, 1)]
    [InlineData(5, 5, 3, 1, 1, 1, 5)]      // depthwise
    [InlineData(4, 1, 1, 1, 0, 1, 1)]
    [InlineData(4, 6, 3, 1, 2, 2, 2)]
    public void Unfold_and_fold_place_every_tap_like_conv2d(int inC, int outC, int k, int stride, int padding, int dilation, int groups)
    {
        var layer = Linearised(inC, outC, k, stride, padding, dilation, groups);
        // base_weight (out/G, G·in/G·k·k): output o of group g is Conv2d channel g·out/G + o.
        var weight = layer.Kan.BaseWeight.view(outC / groups, groups, inC / groups, k, k).transpose(0, 1).reshape(outC, inC / groups, k, k);
        var x = randn(2, inC, 9, 10);
        var expected = F.conv2d(x, weight, null, [stride, stride], [padding, padding], [dilation, dilation], groups);
        TestTorch.AssertClose(expected, layer.call(x), atol: 1e-5, what: "conv");
    }

    [Fact]
    public void Is_a_kan_linear_on_the_patches()
    {
        _ = TestTorch.Runtime;
        manual_seed(19);
        var layer = new KanConv2d(3, 4, 3, padding: 1);
        var x = randn(2, 3, 6, 6);
        var patches = F.unfold(x, 3, 1, 1, 1).transpose(1, 2);             // (B, 36, 27)
        var expected = layer.Kan.call(patches).transpose(1, 2).reshape(2, 4, 6, 6);
        TestTorch.AssertClose(expected, layer.call(x), atol: 1e-6, what: "kan");
    }

    /// <summary>Groups are exactly one KanLinear per group, each on its own channels' patches.</summary>
    [Theory]
    [InlineData(KanPath.Auto)]
    [InlineData(KanPath.General)]
    public void Each_group_is_a_kan_linear_on_its_own_channels(KanPath path)
    {
        _ = TestTorch.Runtime;
        manual_seed(23);
        int groups = 3, inG = 2, outG = 2, f = inG * 9;
        var layer = new KanConv2d(groups * inG, groups * outG, 3, padding: 1, groups: groups);
        layer.Kan.Path = path;
        var x = randn(2, groups * inG, 5, 5);
        var y = layer.call(x);
        for (int g = 0; g < groups; g++)
        {
            var single = new KanLinear(f, outG);
            using (no_grad())
            {
                single.BaseWeight.copy_(layer.Kan.BaseWeight.narrow(1, g * f, f));
                single.SplineWeight.copy_(layer.Kan.SplineWeight.narrow(1, g * f, f));
                single.SplineScaler!.copy_(layer.Kan.SplineScaler!.narrow(1, g * f, f));
            }
            var patches = F.unfold(x.narrow(1, g * inG, inG), 3, 1, 1, 1).transpose(1, 2);
            var expected = single.call(patches).transpose(1, 2).reshape(2, outG, 5, 5);
            TestTorch.AssertClose(expected, y.narrow(1, g * outG, outG), atol: 1e-5, what: $"group {g}");
        }
        // Initialised as a KanLinear over one group's features: kaiming bound 1/√(in/G·k·k).
        var bound = 1 / Math.Sqrt(f);
        Assert.InRange(layer.Kan.BaseWeight.abs().max().item<float>(), 0.8 * bound, bound * 1.0001);
    }

    [Fact]
    public void Has_ten_parameters_per_edge_and_no_bias()
    {
        _ = TestTorch.Runtime;
        var conv = new KanConv2d(16, 32, 3, padding: 1);
        Assert.Equal(10L * 16 * 9 * 32, ModelFactory.CountParameters(conv));
        Assert.Equal(["kan.base_weight", "kan.grid", "kan.spline_scaler", "kan.spline_weight"], conv.state_dict().Keys.Order().ToArray());
        Assert.Equal(10L * 9 * 40, ModelFactory.CountParameters(new KanConv2d(40, 40, 3, padding: 1, groups: 40)));
    }

    [Fact]
    public void Gradients_reach_the_weights_and_the_input()
    {
        _ = TestTorch.Runtime;
        var conv = new KanConv2d(4, 4, 3, padding: 1, groups: 4);
        var x = randn(1, 4, 5, 5).requires_grad_(true);
        conv.call(x).pow(2).sum().backward();
        foreach (var (name, p) in conv.named_parameters())
            Assert.True(p.grad is not null && p.grad.abs().sum().item<float>() > 0, $"{name} has no gradient");
        Assert.True(x.grad!.abs().sum().item<float>() > 0);
    }
}
