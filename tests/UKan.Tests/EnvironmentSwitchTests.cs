namespace UKan.Tests;

public class EnvironmentSwitchTests
{
    [Theory]
    [InlineData("off", true)]
    [InlineData(" OFF ", true)]
    [InlineData("0", true)]
    [InlineData("False", true)]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("on", false)]
    [InlineData("1", false)]
    [InlineData("offline", false)]
    public void A_switch_is_on_unless_set_to_off_0_or_false(string? value, bool off) =>
        Assert.Equal(off, EnvironmentSwitch.IsOff(value));
}
