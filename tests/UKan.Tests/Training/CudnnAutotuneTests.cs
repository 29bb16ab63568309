using UKan.Benchmarks;

namespace UKan.Tests.Training;

public class CudnnAutotuneTests
{
    [Theory]
    [InlineData(null, true, null)]
    [InlineData("", true, null)]
    [InlineData("on", true, null)]
    [InlineData(" OFF ", false, null)]
    [InlineData("1", true, 1)]
    [InlineData("0", true, 0)]
    public void Setting_is_parsed(string? value, bool enabled, int? limit)
    {
        Assert.Equal((enabled, limit), PrecisionSettings.CudnnAutotune(value));
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("fast")]
    public void Wrong_setting_is_a_user_error(string value)
    {
        var e = Assert.Throws<UserError>(() => PrecisionSettings.CudnnAutotune(value));
        Assert.Contains("UKAN_CUDNN_AUTOTUNE", e.Message);
    }
}
