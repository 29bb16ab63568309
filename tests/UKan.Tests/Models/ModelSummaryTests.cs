using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Models;

/// <summary>
/// Multiply-accumulate counts against the figures of docs/architecture.md ("U-KAN's size and compute") and against identities that hold between
/// the architectures built on the same skeleton.
/// </summary>
public class ModelSummaryTests
{
    static long Macs(ModelSpec spec, int size)
    {
        _ = TestTorch.Runtime;
        return ModelSummary.Run(ModelFactory.Create(spec), spec.InChannels, size, size).TotalMacs;
    }

    [Theory]
    [InlineData(256, false, 2.65)]
    [InlineData(256, true, 1.83)]
    public void Paper_preset_matches_the_analytic_count(int size, bool mlp, double gmacs)
    {
        var macs = Macs(new ModelSpec { Mixer = mlp ? TokenMixer.Mlp : TokenMixer.Kan }, size);
        Assert.Equal(gmacs, macs / 1e9, 2);
    }

    /// <summary>
    /// Every conv tap and every FC weight of the MLP U-KAN becomes one efficient-kan edge of 1 + G + k = 9 products in the
    /// stacked KAN (grouped KAN convolutions included), so its count is exactly nine times the MLP U-KAN's. ALL U-KAN
    /// keeps the MLP U-KAN's maps and adds one ψ (9 products) per element entering each KA / KAonv layer.
    /// </summary>
    [Fact]
    public void Kan_variants_relate_to_the_mlp_skeleton_exactly()
    {
        var tiny = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny" };
        long mlp = Macs(tiny with { Mixer = TokenMixer.Mlp }, 64);
        Assert.Equal(9 * mlp, Macs(tiny with { Architecture = Architecture.StackedKan }, 64));
        long all = Macs(tiny with { Architecture = Architecture.AllUKan }, 64);
        Assert.True(all > mlp);
        Assert.Equal(0, (all - mlp) % 9);
    }

    /// <summary>
    /// The baselines at 256×256 with their published sizes, against MACs derived by hand from the reference architectures
    /// (docs/models.md): every convolution as out pixels × in × k², U-Net's 2×2 transposed convolutions as in pixels × out
    /// × 4, UNeXt's fc layers as tokens × C². Counted at 64×64, where every layer does exactly 1/16 of the work.
    /// </summary>
    [Theory]
    [InlineData(Architecture.UNet, 48_167_387_136)]
    [InlineData(Architecture.AttUNet, 66_424_930_304)]
    [InlineData(Architecture.UNetPlusPlus, 34_485_567_488)]
    [InlineData(Architecture.UNext, 562_003_968)]
    public void Baselines_match_the_analytic_count(Architecture architecture, long macsAt256) =>
        Assert.Equal(macsAt256, 16 * Macs(new ModelSpec { Architecture = architecture }, 64));

    /// <summary>
    /// ukan model summary of the large preset at 4096×4096 was killed for memory (a forward pass at that size); the
    /// count runs at 32×32 and is scaled, so it takes a moment and matches the count at 256×256 times 256.
    /// </summary>
    [Fact]
    public void A_huge_input_size_is_counted_without_a_forward_pass_at_that_size()
    {
        var large = Commands.CliRunner.Run("model", "summary", "--preset", "large", "--size", "4096");
        Assert.Equal(0, large.Code);
        var small = Commands.CliRunner.Run("model", "summary", "--preset", "large", "--size", "256");
        static double Total(string stdout) => double.Parse(stdout.Split('\n').Single(l => l.StartsWith("parameters:")).Split("MACs:")[1].Split('G')[0],
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(Total(large.Stdout), 256 * (Total(small.Stdout) - 0.005), 256 * (Total(small.Stdout) + 0.005));   // printed to 0.01 G
        Commands.BadInputTests.AssertRefused(Commands.CliRunner.Run("model", "summary", "--size", "65568"), "--size 65568");
    }
}
