using UKan.Native;

namespace UKan.Tests.Native;

/// <summary>
/// The start-up guard against wrong oneDNN convolutions (<see cref="CpuConvolutions"/>). Which path a machine ends
/// on depends on its CPU (this workplace's AVX-512 EPYC falls back; CI's CPU may not), so the tests assert what must
/// hold on every machine: the chosen path passes the probe, the switches do what they say, bad settings are refused.
/// </summary>
public class CpuConvolutionsTests
{
    [Fact]
    public void The_path_chosen_at_start_up_computes_convolutions_that_match_float64()
    {
        var status = TestTorch.Runtime.CpuConvolutions;
        Assert.NotNull(status);
        Assert.True(AtenContext.Available, "the oneDNN switch of the bundled libtorch must be reachable");
        Assert.Equal(status!.OneDnn, AtenContext.MkldnnEnabled);
        var (worst, failed) = CpuConvolutions.Probe();
        Assert.Null(failed);
        Assert.InRange(worst, 0, CpuConvolutions.Tolerance);
        Assert.Equal(status.Warn, !status.OneDnn && status.Reason.Contains("wrong"));
    }

    [Fact]
    public void Off_switches_onednn_off_and_aten_convolutions_match_float64()
    {
        var before = TestTorch.Runtime.CpuConvolutions!;
        try
        {
            var off = CpuConvolutions.Configure("off");
            Assert.False(off.OneDnn);
            Assert.False(AtenContext.MkldnnEnabled);
            Assert.Null(CpuConvolutions.Probe().Failed);
            Assert.True(CpuConvolutions.Configure("on").OneDnn);
            Assert.True(AtenContext.MkldnnEnabled);
        }
        finally { AtenContext.MkldnnEnabled = before.OneDnn; }
    }

    [Fact]
    public void An_unknown_setting_is_a_user_error_naming_the_choices()
    {
        _ = TestTorch.Runtime;
        var e = Assert.Throws<UserError>(() => CpuConvolutions.Configure("fast"));
        Assert.Contains("UKAN_ONEDNN=fast", e.Message);
        Assert.Contains("auto", e.Message);
    }
}
