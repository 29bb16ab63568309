using UKan.Training;
using UKan.Training.Distributed;

namespace UKan.Tests.Training.Distributed;

public class GradientReducerTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData("on", false)]
    [InlineData("off", true)]
    [InlineData(" OFF ", true)]
    [InlineData("0", true)]
    public void The_overlap_is_on_unless_the_variable_says_off(string? value, bool disabled) =>
        Assert.Equal(disabled, GradientReducer.OverlapDisabled(value));

    [Fact]
    public void Cpu_workers_average_after_backward()
    {
        _ = TestTorch.Runtime;
        var described = TcpCollectivesTests.OnWorkers(2, c =>
        {
            var p = new TorchSharp.Modules.Parameter(TorchSharp.torch.ones(4));
            using var optimizer = new FlatAdam([(new GroupSettings("all", 1e-3, 0), [("p", p)])]);
            using var reducer = new GradientReducer(c, optimizer);
            return (reducer.Overlapped, reducer.Describe);
        });
        Assert.All(described, d => Assert.Equal((false, "gradients averaged after backward"), d));
    }
}
