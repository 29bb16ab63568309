using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>The folded convolution itself: the formula, the memory layout it keeps, and what it leaves out of the state dict.</summary>
public class BatchNormFoldTests
{
    static (Conv2d Conv, BatchNorm2d Bn) Pair(int seed, bool channelsLast)
    {
        manual_seed(seed);
        var conv = nn.Conv2d(6, 8, 3, stride: 2, padding: 1, groups: 2, bias: true);
        var bn = nn.BatchNorm2d(8);
        using var _ = no_grad();
        if (channelsLast)
        {
            // (out, kh, kw, in) in memory, viewed as (out, in, kh, kw): the strides the trainer and bench give conv weights.
            var w = conv.weight!.detach().permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
            conv.weight = new Parameter(w);
        }
        bn.running_mean!.copy_(randn(8));
        bn.running_var!.copy_(rand(8) * 2 + 0.1);
        bn.weight!.copy_(randn(8));
        bn.bias!.copy_(randn(8));
        bn.eval();
        return (conv, bn);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Folded_conv_equals_conv_then_batch_norm_and_keeps_the_weight_layout(bool channelsLast)
    {
        var (conv, bn) = Pair(3, channelsLast);
        var folded = new FoldedConv(conv, bn);
        using var _ = no_grad();
        var x = randn(2, 6, 9, 11);
        var expected = bn.call(conv.call(x));
        var actual = folded.call(x);
        Assert.Equal(expected.shape, actual.shape);
        double error = (actual - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
        Assert.True(error <= 1e-5 * scale, $"folded output differs by {error:G3} (outputs up to {scale:G3})");
        Assert.Equal(conv.weight!.stride(), folded.get_buffer("weight")!.stride());
        Assert.Empty(folded.state_dict());
    }

    [Fact]
    public void A_sequence_folds_each_conv_followed_by_batch_norm_takes_the_relu_after_it_and_shares_the_rest()
    {
        var (conv, bn) = Pair(4, false);
        var relu = nn.ReLU();
        var tail = nn.Conv2d(8, 8, 1);
        var sequence = nn.Sequential(("0", conv), ("1", bn), ("2", relu), ("3", tail));
        var folded = BatchNormFold.Sequence(sequence, out int pairs);
        Assert.Equal(1, pairs);
        var children = folded!.named_children().ToList();
        Assert.Equal(["0", "3"], children.Select(c => c.name));
        Assert.True(Assert.IsType<FoldedConv>(children[0].module).Relu);
        Assert.Same(tail, children[1].module);
        using (no_grad())
        {
            var x = randn(2, 6, 9, 11);
            var expected = sequence.call(x);
            double error = (folded.call(x) - expected).abs().max().item<float>(), scale = expected.abs().max().item<float>();
            Assert.True(error <= 1e-5 * scale, $"folded sequence differs by {error:G3} (outputs up to {scale:G3})");
        }
        Assert.Null(BatchNormFold.Sequence(nn.Sequential(("0", relu), ("1", tail)), out int none));
        Assert.Equal(0, none);

        // A pair followed by anything but a ReLU keeps that child.
        var noRelu = BatchNormFold.Sequence(nn.Sequential(("0", conv), ("1", bn), ("2", tail)), out _)!.named_children().ToList();
        Assert.Equal(["0", "2"], noRelu.Select(c => c.name));
        Assert.False(Assert.IsType<FoldedConv>(noRelu[0].module).Relu);
    }

    [Fact]
    public void A_conv_that_does_not_pad_with_zeros_keeps_its_batch_norm_instead_of_failing_the_fold()
    {
        // One convolution, written out as F.conv2d with explicit padding, is what the fold builds; reflect padding is not.
        var reflected = nn.Conv2d(3, 4, 3, padding: 1, padding_mode: PaddingModes.Reflect);
        var bn = nn.BatchNorm2d(4);
        Assert.False(BatchNormFold.ZeroPadded(reflected));
        Assert.Null(BatchNormFold.Pair(reflected, bn));
        var sequence = nn.Sequential(("0", reflected), ("1", bn), ("2", nn.ReLU()));
        Assert.Null(BatchNormFold.Sequence(sequence, out int pairs));
        Assert.Equal(0, pairs);
        Assert.True(BatchNormFold.ZeroPadded(nn.Conv2d(3, 4, 3, padding: 1)));
    }
}
