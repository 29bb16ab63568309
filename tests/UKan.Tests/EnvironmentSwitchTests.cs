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

    [Theory]
    [InlineData("on", true)]
    [InlineData(" ON ", true)]
    [InlineData("1", true)]
    [InlineData("True", true)]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("off", false)]
    [InlineData("only", false)]
    public void An_off_by_default_switch_is_on_only_when_set_to_on_1_or_true(string? value, bool on) =>
        Assert.Equal(on, EnvironmentSwitch.IsOn(value));
}
