using TorchSharp;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Models;

/// <summary>Small specs of the baselines: the convolutional U-Nets at width 8, UNeXt with the tiny dims.</summary>
static class Baselines
{
    public static ModelSpec Spec(Architecture architecture, int? width = null) => new ModelSpec { Architecture = architecture } switch
    {
        var s when width is null => s,
        var s => s.WithOptions(new ConvUNetOptions { Width = width }),
    };

    public static ModelSpec TinyUNext => new() { Architecture = Architecture.UNext, EmbedDims = [32, 40, 64], Preset = "tiny" };
}

/// <summary>
/// U-Net as milesial/Pytorch-UNet builds it with transposed convolutions: 31,043,521 parameters for 3 inputs and one
/// class, the 31.04 M of U-KAN's Table 1. At width w: 9 double convs, 4 transposed convs and the head.
/// </summary>
public sealed class UNetModelTests : ModelTester
{
    protected override ModelSpec SmallSpec => Baselines.Spec(Architecture.UNet, 8);
    protected override int SizeMultiple => 16;

    protected override IEnumerable<(ModelSpec, long)> KnownCounts =>
    [
        (Baselines.Spec(Architecture.UNet), 31_043_521),
    ];
}

/// <summary>Attention U-Net as LeeJunHyun/Image_Segmentation's AttU_Net: 34,878,573 parameters (U-KAN's Table 1: 34.9 M).</summary>
public sealed class AttUNetModelTests : ModelTester
{
    protected override ModelSpec SmallSpec => Baselines.Spec(Architecture.AttUNet, 8);
    protected override int SizeMultiple => 16;

    protected override IEnumerable<(ModelSpec, long)> KnownCounts => [(Baselines.Spec(Architecture.AttUNet), 34_878_573)];

    // ψ's 1×1 conv (one output channel) feeds BatchNorm2d(1): its bias is subtracted again with the batch mean.
    protected override bool HasNoGradientByDesign(string parameter) => parameter.EndsWith(".psi.0.bias");
}

/// <summary>U-Net++ as 4uiiurz1/pytorch-nested-unet's NestedUNet without deep supervision: 9,163,329 (Table 1: 9.16 M).</summary>
public sealed class UNetPlusPlusModelTests : ModelTester
{
    protected override ModelSpec SmallSpec => Baselines.Spec(Architecture.UNetPlusPlus, 8);
    protected override int SizeMultiple => 16;

    protected override IEnumerable<(ModelSpec, long)> KnownCounts => [(Baselines.Spec(Architecture.UNetPlusPlus), 9_163_329)];
}

/// <summary>
/// U-Net++ with deep supervision (NestedUNet's <c>deep_supervision=True</c>): the three extra 1×1 heads add 3 × 33
/// parameters, 9,163,428; the gradient check trains through all four heads (the mean loss).
/// </summary>
public sealed class UNetPlusPlusDeepSupervisionModelTests : ModelTester
{
    static ModelSpec WithHeads(int? width) =>
        new ModelSpec { Architecture = Architecture.UNetPlusPlus }.WithOptions(new ConvUNetOptions { Width = width, DeepSupervision = true });

    protected override ModelSpec SmallSpec => WithHeads(8);
    protected override int SizeMultiple => 16;

    protected override IEnumerable<(ModelSpec, long)> KnownCounts => [(WithHeads(null), 9_163_428)];
}

/// <summary>UNeXt as jeya-maria-jose/UNeXt-pytorch's UNext: 1,471,921 parameters with its default dims [128,160,256] (1.47 M).</summary>
public sealed class UNextModelTests : ModelTester
{
    protected override ModelSpec SmallSpec => Baselines.TinyUNext;

    protected override IEnumerable<(ModelSpec, long)> KnownCounts => [(Baselines.Spec(Architecture.UNext), 1_471_921)];
}

public class BaselineArchitectureTests
{
    /// <summary>
    /// State-dict keys are the reference implementations' (so their PyTorch weights load), except U-Net++'s nodes, whose
    /// VGGBlock names are replaced by <see cref="DoubleConv"/>'s.
    /// </summary>
    [Theory]
    [InlineData(Architecture.UNet, "inc.double_conv.0.weight", "down1.maxpool_conv.1.double_conv.4.running_mean", "up1.up.weight", "up4.conv.double_conv.3.bias", "outc.conv.weight")]
    [InlineData(Architecture.AttUNet, "Conv1.conv.0.weight", "Up5.up.1.weight", "Up5.up.2.running_var", "Att5.W_g.0.weight", "Att2.W_x.1.bias", "Att3.psi.1.weight", "Up_conv2.conv.4.weight", "Conv_1x1.bias")]
    [InlineData(Architecture.UNetPlusPlus, "conv0_0.conv.0.weight", "conv4_0.conv.4.bias", "conv0_4.conv.0.weight", "conv3_1.conv.3.weight", "final.weight")]
    [InlineData(Architecture.UNext, "encoder1.weight", "ebn3.running_mean", "patch_embed3.proj.weight", "patch_embed4.norm.bias", "block1.0.norm2.weight",
        "block2.0.mlp.fc1.weight", "dblock1.0.mlp.dwconv.dwconv.weight", "dblock2.0.mlp.fc2.bias", "dnorm4.weight", "decoder5.weight", "dbn4.bias", "final.weight")]
    public void State_dict_keys_are_the_reference_ones(Architecture architecture, params string[] keys)
    {
        _ = TestTorch.Runtime;
        var spec = architecture == Architecture.UNext ? Baselines.TinyUNext : Baselines.Spec(architecture, 8);
        var stateKeys = ModelFactory.Create(spec).state_dict().Keys.ToHashSet();
        foreach (var key in keys) Assert.Contains(key, stateKeys);
        // Nothing registered a second time under its field name (DoubleConv's Sequential is registered under its key).
        if (architecture == Architecture.UNet) Assert.DoesNotContain(stateKeys, k => k.StartsWith("inc.conv."));
        else Assert.DoesNotContain(stateKeys, k => k.Contains("double_conv"));
    }

    [Fact]
    public void Deep_supervision_heads_have_the_reference_names()
    {
        _ = TestTorch.Runtime;
        var spec = Baselines.Spec(Architecture.UNetPlusPlus).WithOptions(new ConvUNetOptions { Width = 8, DeepSupervision = true });
        var model = ModelFactory.Create(spec);
        var keys = model.state_dict().Keys.ToList();
        Assert.Equal(["final1.bias", "final1.weight", "final2.bias", "final2.weight", "final3.bias", "final3.weight", "final4.bias", "final4.weight"],
            keys.Where(k => k.StartsWith("final")).Order());
        // The heads' parameters come last, as the reference registers them after the nodes.
        Assert.Equal(["final1.weight", "final1.bias", "final2.weight", "final2.bias", "final3.weight", "final3.bias", "final4.weight", "final4.bias"],
            model.named_parameters().Select(p => p.name).TakeLast(8));
    }

    /// <summary>The reference's shift: pad by 2, chunk the channels, roll chunk i by i − 2, crop (UNeXt-pytorch's shiftmlp).</summary>
    static Tensor ReferenceShift(Tensor map, int dim)
    {
        long h = map.shape[2], w = map.shape[3];
        var padded = F.pad(map, [2, 2, 2, 2]);
        var chunks = padded.chunk(5, 1);
        var rolled = chunks.Select((c, i) => c.roll(i - 2, dim)).ToArray();
        return cat(rolled, 1).narrow(2, 2, h).narrow(3, 2, w);
    }

    [Theory]
    [InlineData(160, 2)]
    [InlineData(256, 3)]
    [InlineData(13, 2)]
    [InlineData(3, 3)]
    public void Shift_matches_the_reference_pad_roll_and_crop(int channels, int dim)
    {
        _ = TestTorch.Runtime;
        manual_seed(3);
        var map = randn(2, channels, 6, 7);
        TestTorch.AssertClose(ReferenceShift(map, dim), ShiftedMlp.Shift(map, dim), atol: 0, rtol: 0, what: $"shift of {channels} channels along {dim}");
    }

    [Fact]
    public void Widths_and_options_are_checked()
    {
        _ = TestTorch.Runtime;
        Assert.Throws<UserError>(() => ModelFactory.Create(Baselines.Spec(Architecture.AttUNet, 7)));
        Assert.Throws<UserError>(() => ModelFactory.Validate(Baselines.Spec(Architecture.UNet, 0)));
        Assert.Throws<UserError>(() => ModelFactory.Validate(Baselines.Spec(Architecture.UNet, 8) with { Mixer = TokenMixer.Mlp }));
        Assert.Throws<UserError>(() => ModelFactory.Validate(Baselines.Spec(Architecture.UNext).WithOptions(new ConvUNetOptions { Width = 8 })));
        var typo = Baselines.Spec(Architecture.UNetPlusPlus) with { ArchitectureOptions = System.Text.Json.JsonDocument.Parse("{\"widht\":8}").RootElement };
        Assert.Throws<UserError>(() => ModelFactory.Validate(typo));
        Assert.Equal("unetpp width 32, 3 in, 1 class", Baselines.Spec(Architecture.UNetPlusPlus).Describe());
        var heads = new ConvUNetOptions { DeepSupervision = true };
        Assert.Equal("unetpp width 32 with deep supervision, 3 in, 1 class", Baselines.Spec(Architecture.UNetPlusPlus).WithOptions(heads).Describe());
        foreach (var other in new[] { Architecture.UNet, Architecture.AttUNet })
        {
            var e = Assert.Throws<UserError>(() => ModelFactory.Validate(Baselines.Spec(other).WithOptions(heads)));
            Assert.Contains("deep_supervision", e.Message);
            Assert.Throws<UserError>(() => ModelFactory.Create(Baselines.Spec(other).WithOptions(heads)));
        }
        Assert.Equal("unext tiny [32,40,64], 3 in, 1 class", Baselines.TinyUNext.Describe());
    }
}
