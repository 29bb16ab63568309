using UKan.Checkpoints;
using UKan.Diagnostics;
using static TorchSharp.torch;

namespace UKan.Tests.Parity;

/// <summary>
/// The device-side fixture checks of <c>ukan selftest</c> (<see cref="FixtureParity"/>), run on the CPU: they pass on
/// the official fixtures, cover both KANLinear paths and the Seg U-KAN outputs and gradients, and fail when a reference
/// value is off.
/// </summary>
public class FixtureParityTests
{
    [Fact]
    public void Every_check_passes_on_the_official_fixtures_and_covers_each_kind()
    {
        _ = TestTorch.Runtime;
        var checks = FixtureParity.Run(ParityFixtures.Folder(), CPU);
        Assert.All(checks, c => Assert.True(c.Passed, $"{c.Name}: {c.RelativeNorm:E2} > {c.Bound:E0}"));
        var names = checks.Select(c => c.Name).ToHashSet();
        foreach (var expected in new[]
        {
            "kan_linear, general path: grad x", "kan_linear, fast path: y", "kan_linear, fast path: grad spline_scaler",
            "ukan_tiny, fp32-strict: logits (train mode)", "ukan_tiny, fp32-strict: BCE + Dice loss",
            "ukan_tiny, fp32-strict: grad.encoder1.conv.0.weight", "ukan_tiny, fp32-strict: logits (eval mode)",
        })
            Assert.Contains(expected, names);
    }

    [Fact]
    public void A_reference_off_by_a_thousandth_fails_exactly_its_checks()
    {
        _ = TestTorch.Runtime;
        var folder = Path.Combine(Path.GetTempPath(), $"ukan-fixtures-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var source = ParityFixtures.Get("kan_linear");
        File.Copy(source.JsonPath, Path.Combine(folder, "kan_linear.json"));
        var tensors = source.ReadTensors();
        tensors["y"] = tensors["y"] * 1.001;
        SafeTensors.Write(Path.Combine(folder, "kan_linear.safetensors"), tensors.Select(kv => (kv.Key, kv.Value)));

        var failed = FixtureParity.Run(folder, CPU).Where(c => !c.Passed).Select(c => c.Name).Order().ToArray();
        Assert.Equal(["kan_linear, fast path: y", "kan_linear, general path: y"], failed);
    }

    [Fact]
    public void A_folder_without_fixtures_is_a_user_error() =>
        Assert.Throws<UKan.UserError>(() => FixtureParity.Run(Path.GetTempPath(), CPU));
}
