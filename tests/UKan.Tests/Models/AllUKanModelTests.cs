using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Models;

/// <summary>
/// Parameter counts for the paper dims [128,160,256] (docs/allukan.md has the derivation):
/// <list type="bullet">
/// <item>U-KAN with the MLP ablation (every layer an nn.Linear / nn.Conv2d with bias): 2,764,561. ALL U-KAN has exactly
/// these Λ and b, plus ψ on each of its 43 layers (31 KAonv + 12 KA).</item>
/// <item>ψ with learnable c (8), w_b and w_s: 10 per layer, 2,764,561 + 430 = 2,764,991 (our default).</item>
/// <item>docs/allukan.md §R.9 predicts 2,764,948 = 2,764,561 + 43·9: its ψ has 9 scalars. With w_b fixed at 1 (or w_s,
/// which only rescales c) ours gives the same number; both variants are tested.</item>
/// </list>
/// </summary>
public sealed class AllUKanModelTests : ModelTester
{
    internal static ModelSpec Tiny => new() { Architecture = Architecture.AllUKan, EmbedDims = [32, 40, 64], Preset = "tiny" };
    internal static ModelSpec Paper => new() { Architecture = Architecture.AllUKan, EmbedDims = ModelPresets.Resolve("paper") };

    protected override ModelSpec SmallSpec => Tiny;
    protected override bool EveryBatchNormFollowsAConv2d => false;

    protected override IEnumerable<(ModelSpec, long)> KnownCounts =>
    [
        (Paper, 2_764_991),
        (Paper.WithOptions(new AllUKanOptions { Activation = new() { LearnBaseScale = false } }), 2_764_948),
        (Tiny, 179_939),
    ];
}

/// <summary>Every non-default option at once, through the generic tester (gradients, round trip, sizes).</summary>
public sealed class AllUKanVariantModelTests : ModelTester
{
    internal static readonly AllUKanOptions Variant = new()
    {
        Activation = new() { Gradient = SplineGradient.GradFreeRecompute, CoefficientInit = CoefficientInit.LeastSquares },
        Sharing = ActivationSharing.Block,
        Relu = false,
        Shift = new() { Mode = ShiftMode.Learnable },
        Padding = KaPadding.BeforeActivation,
        OfficialLambdaInit = true,
    };

    protected override ModelSpec SmallSpec => AllUKanModelTests.Tiny.WithOptions(Variant);
    protected override bool EveryBatchNormFollowsAConv2d => false;

    // 179,509 (Λ, b, norms) + 15 stage-shared ψ · 10 + 12 KA layers' η (3·(40 + 64 + 40 + 32) = 528).
    protected override IEnumerable<(ModelSpec, long)> KnownCounts => [(SmallSpec, 179_509 + 150 + 528)];
}

/// <summary>
/// The stacked-KAN baseline: 27,492,064 parameters for the paper dims, the number docs/allukan.md §R.9 predicts
/// (10 per edge in every conv and FC, no KAN bias, BN and LayerNorm as U-KAN), 9.94× ALL U-KAN's 2,764,991.
/// </summary>
public sealed class StackedKanModelTests : ModelTester
{
    protected override ModelSpec SmallSpec => new() { Architecture = Architecture.StackedKan, EmbedDims = [32, 40, 64], Preset = "tiny" };
    protected override bool EveryBatchNormFollowsAConv2d => false;

    protected override IEnumerable<(ModelSpec, long)> KnownCounts =>
    [
        (new ModelSpec { Architecture = Architecture.StackedKan, EmbedDims = ModelPresets.Resolve("paper") }, 27_492_064),
        (SmallSpec, 1_756_696),
    ];
}

public class AllUKanOptionsTests
{
    static SegUKan Build(ModelSpec spec, long seed = 0)
    {
        _ = TestTorch.Runtime;
        manual_seed(seed);
        return (SegUKan)ModelFactory.Create(spec);
    }

    static IEnumerable<(string Name, SharedActivation Psi)> Activations(nn.Module model) =>
        model.named_modules().Select(m => (m.name, Psi: m.module switch
        {
            KaLinear ka => ka.Activation,
            KaConv2d kaonv => kaonv.Activation,
            _ => null,
        })).Where(m => m.Psi is not null).Select(m => (m.name, m.Psi!));

    [Fact]
    public void Options_travel_in_the_spec_json()
    {
        var spec = AllUKanModelTests.Tiny.WithOptions(AllUKanVariantModelTests.Variant);
        var json = spec.ToJson();
        Assert.Contains("\"architecture\":\"all-u-kan\"", json);
        Assert.Contains("\"gradient\":\"grad-free-recompute\"", json);
        Assert.Contains("\"base_activation\":\"silu\"", json);
        Assert.Contains("\"sharing\":\"block\"", json);
        var back = ModelSpec.FromJson(json).ReadOptions<AllUKanOptions>();
        Assert.Equal(AllUKanVariantModelTests.Variant, back);
        Assert.Equal(new AllUKanOptions(), AllUKanModelTests.Tiny.ReadOptions<AllUKanOptions>());
    }

    [Fact]
    public void Misspelt_options_and_the_mlp_mixer_are_user_errors()
    {
        var typo = AllUKanModelTests.Tiny with { ArchitectureOptions = System.Text.Json.JsonDocument.Parse("{\"sharring\":\"block\"}").RootElement };
        Assert.Throws<UserError>(() => ModelFactory.Create(typo));
        Assert.Throws<UserError>(() => ModelFactory.Create(AllUKanModelTests.Tiny with { Mixer = TokenMixer.Mlp }));
    }

    [Fact]
    public void Every_conv_is_a_kaonv_and_every_fc_a_ka_layer_each_with_its_own_psi()
    {
        var model = Build(AllUKanModelTests.Tiny);
        Assert.Empty(model.modules().OfType<Conv2d>());
        Assert.Empty(model.modules().OfType<Linear>());
        Assert.Empty(model.modules().OfType<KanLinear>());
        Assert.Equal(31, model.modules().OfType<KaConv2d>().Count());
        Assert.Equal(12, model.modules().OfType<KaLinear>().Count());
        Assert.Equal(43, Activations(model).Select(a => a.Psi).Distinct().Count());
        var keys = model.state_dict().Keys.ToHashSet();
        foreach (var key in new[] { "encoder1.conv.0.weight", "encoder1.conv.0.bias", "encoder1.conv.0.act.coef", "block1.0.layer.fc1.weight",
                     "block1.0.layer.fc1.act.base_scale", "block1.0.layer.dwconv_1.dwconv.act.spline_scale", "patch_embed3.proj.weight", "final.weight" })
            Assert.Contains(key, keys);
    }

    [Fact]
    public void Sharing_scopes_give_one_psi_per_stage_or_one_in_all()
    {
        var block = Build(AllUKanModelTests.Tiny.WithOptions(new AllUKanOptions { Sharing = ActivationSharing.Block }));
        var byStage = Activations(block).GroupBy(a => a.Name.Split('.')[0]).ToList();
        Assert.Equal(15, byStage.Count);                                      // 3 encoders, 2 embeddings, 4 blocks, 5 decoders, head
        Assert.All(byStage, stage => Assert.Single(stage.Select(a => a.Psi).Distinct()));
        Assert.Equal(15, Activations(block).Select(a => a.Psi).Distinct().Count());
        Assert.Equal(179_509 + 150, ModelFactory.CountParameters(block));

        var network = Build(AllUKanModelTests.Tiny.WithOptions(new AllUKanOptions { Sharing = ActivationSharing.Network }));
        Assert.Single(Activations(network).Select(a => a.Psi).Distinct());
        Assert.Equal(179_509 + 10, ModelFactory.CountParameters(network));
        Assert.Contains("encoder1.conv.0.act.coef", network.state_dict().Keys);
    }

    [Fact]
    public void Dropping_relu_removes_every_relu_of_the_skeleton()
    {
        var kept = Build(AllUKanModelTests.Tiny);
        var dropped = Build(AllUKanModelTests.Tiny.WithOptions(new AllUKanOptions { Relu = false }));
        Assert.Equal(8 * 2, kept.modules().OfType<ReLU>().Count());            // two in each ConvLayer / D_ConvLayer
        Assert.Empty(dropped.modules().OfType<ReLU>());
        Assert.Equal(kept.state_dict().Keys.Order(), dropped.state_dict().Keys.Order());
        TestTorch.CopyState(kept, dropped);
        kept.eval(); dropped.eval();
        using var _ = no_grad();
        var x = randn(1, 3, 32, 32);
        Assert.True((kept.call(x) - dropped.call(x)).abs().max().item<float>() > 1e-4);
    }

    [Fact]
    public void Lambda_keeps_its_default_init_unless_the_official_one_is_asked_for()
    {
        static Tensor Proj(SegUKan m) => m.named_modules().Single(n => n.name == "patch_embed3.proj").module is KaConv2d c ? c.Weight : throw new InvalidOperationException();
        static Tensor Encoder(SegUKan m) => ((KaConv2d)m.named_modules().Single(n => n.name == "encoder1.conv.0").module).Weight;
        var plain = Build(AllUKanModelTests.Tiny);
        var official = Build(AllUKanModelTests.Tiny.WithOptions(new AllUKanOptions { OfficialLambdaInit = true }));
        // patch_embed3.proj: 32 → 40 channels, 3×3. Default: kaiming-uniform, |λ| ≤ 1/√(32·9). Official: normal(0, √(2/(9·40))).
        Assert.True(Proj(plain).abs().max().item<float>() <= 1 / Math.Sqrt(32 * 9) + 1e-7);
        Assert.InRange(Proj(official).std().item<float>(), 0.9 * Math.Sqrt(2.0 / 360), 1.1 * Math.Sqrt(2.0 / 360));
        // Outside the official stages Λ keeps the default: encoder1.conv.0 is 3 → 4 channels, |λ| ≤ 1/√(3·9).
        Assert.True(Encoder(official).abs().max().item<float>() <= 1 / Math.Sqrt(27) + 1e-7);
    }

    /// <summary>
    /// The Grad-Free ablation at the model level: same outputs, and the head's Λ (which sees no spline derivative on
    /// its way) gets the same gradient; deeper layers' gradients differ because the spline terms were dropped. The
    /// recompute modes give their plain twins' gradients through 43 custom autograd nodes in one backward pass.
    /// </summary>
    [Fact]
    public void Gradient_modes_differ_only_where_the_spline_derivative_enters()
    {
        // float64: the comparisons are of formulas, not of float32 rounding amplified by 40 layers of BatchNorm.
        var x = randn(2, 3, 32, 32, dtype: float64);
        SegUKan? first = null;
        (Tensor Y, Dictionary<string, Tensor> Grads) Run(SplineGradient g)
        {
            var model = Build(AllUKanModelTests.Tiny.WithOptions(new AllUKanOptions { Activation = new() { Gradient = g } }));
            model.to(float64);
            if (first is null) first = model;
            else TestTorch.CopyState(first, model);
            model.train();
            var y = model.call(x);
            y.pow(2).mean().backward();
            return (y.detach(), model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }
        var runs = Enum.GetValues<SplineGradient>().ToDictionary(g => g, Run);
        var (free, exact) = (runs[SplineGradient.GradFree], runs[SplineGradient.Exact]);
        foreach (var run in runs.Values) TestTorch.AssertClose(exact.Y, run.Y, atol: 1e-12, rtol: 1e-10, what: "logits");
        foreach (var key in new[] { "final.weight", "final.bias", "final.act.coef", "final.act.base_scale", "final.act.spline_scale" })
            TestTorch.AssertClose(exact.Grads[key], free.Grads[key], atol: 1e-12, rtol: 1e-9, what: key);
        Assert.True((exact.Grads["encoder1.conv.0.weight"] - free.Grads["encoder1.conv.0.weight"]).abs().max().item<double>() > 1e-6);
        foreach (var (plain, lean) in new[] { (SplineGradient.GradFree, SplineGradient.GradFreeRecompute), (SplineGradient.Exact, SplineGradient.ExactRecompute) })
            foreach (var (key, grad) in runs[plain].Grads)
                TestTorch.AssertClose(grad, runs[lean].Grads[key], atol: 1e-12, rtol: 1e-8, what: $"{lean} {key}");
    }
}
