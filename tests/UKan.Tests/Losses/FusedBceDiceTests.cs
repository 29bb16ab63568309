using UKan.Losses;
using static TorchSharp.torch;

namespace UKan.Tests.Losses;

/// <summary>
/// The fused BCE + Dice node's torch formulation (<see cref="FusedBceDice.Torch"/>, the reference of its CUDA kernels)
/// against the module: the loss (the formula both share) and above all the gradient, written out in the node's backward
/// against autograd through the formula, in the layouts the kernels take; and what they take.
/// </summary>
public class FusedBceDiceTests
{
    static Tensor Layout(Tensor nhwc, bool channelsLast) => channelsLast ? nhwc.permute(0, 3, 1, 2) : nhwc.permute(0, 3, 1, 2).contiguous();

    [Theory]
    [InlineData(4, 1, 16, 16, true)]
    [InlineData(3, 2, 7, 5, false)]
    [InlineData(2, 3, 5, 7, true)]
    [InlineData(1, 1, 9, 4, false)]
    public void The_node_computes_the_modules_loss_and_its_gradient(int n, int c, int h, int w, bool channelsLast)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(17);
        var x = Layout(randn(n, h, w, c, generator: gen) * 3, channelsLast);
        var t = Layout((rand(n, h, w, c, generator: gen) > 0.6).to(float32), channelsLast);
        Assert.True(FusedBceDice.Takes(x, t));

        var xa = x.detach().requires_grad_(true);
        var reference = new BceDiceLoss().call(xa, t);   // on the CPU: the module's formula
        var expected = autograd.grad([reference * 0.7], [xa])[0];
        var xb = x.detach().requires_grad_(true);
        var fused = FusedBceDice.Apply(xb, t, 0.5, FusedBceDice.Torch.Instance);
        var actual = autograd.grad([fused * 0.7], [xb])[0];

        TestTorch.AssertClose(reference, fused, 1e-6, 1e-6, "loss");
        TestTorch.AssertClose(expected, actual, 1e-7, 1e-5, "gradient");
        Assert.True(expected.abs().max().item<float>() > 1e-4, "the gradient must not vanish");
    }

    [Fact]
    public void The_kernels_take_float32_pairs_in_one_memory_order_with_whole_images_in_a_run()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 4, 5);
        Assert.True(FusedBceDice.Takes(x, zeros_like(x)));
        Assert.True(FusedBceDice.Takes(randn(2, 4, 5, 3).permute(0, 3, 1, 2), zeros(2, 4, 5, 3).permute(0, 3, 1, 2)));
        // One class: channels-last logits and NCHW targets are the same memory order.
        Assert.True(FusedBceDice.Takes(randn(2, 4, 5, 1).permute(0, 3, 1, 2), zeros(2, 1, 4, 5)));
        Assert.False(FusedBceDice.Takes(x, zeros(2, 4, 5, 3).permute(0, 3, 1, 2)));            // another memory order
        Assert.False(FusedBceDice.Takes(x.to(float64), zeros_like(x).to(float64)));
        Assert.False(FusedBceDice.Takes(x, zeros(2, 3, 4, 6)));
        Assert.False(FusedBceDice.Takes(randn(3, 2, 4, 5).permute(1, 0, 2, 3), zeros(3, 2, 4, 5).permute(1, 0, 2, 3)));   // images interleaved
        Assert.False(FusedBceDice.Takes(randn(2, 3, 4, 10)[.., .., .., ..5], zeros(2, 3, 4, 5)));                      // not dense
        Assert.False(FusedBceDice.Takes(zeros(FusedBceDice.MaxImages + 1, 1, 2, 2), zeros(FusedBceDice.MaxImages + 1, 1, 2, 2)));
    }
}
