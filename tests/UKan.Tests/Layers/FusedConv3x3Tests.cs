using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Layers;

/// <summary>
/// The 3 × 3 convolution node (<see cref="FusedConv3x3"/>) with its torch formulation: output and both gradients equal
/// PyTorch's convolution and autograd, for one group and depthwise; and when the CUDA kernels are (not) taken.
/// </summary>
public class FusedConv3x3Tests
{
    static FusedConv3x3Tests() => _ = TestTorch.Runtime;

    [Theory]
    [InlineData(3, 16, 1)]
    [InlineData(16, 32, 1)]
    [InlineData(8, 8, 8)]
    public void The_node_is_the_convolution_and_its_autograd(int cin, int cout, int groups)
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(7);
        var x0 = randn(2, cin, 5, 6, dtype: float64, generator: gen).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        var w0 = randn(cout, cin / groups, 3, 3, dtype: float64, generator: gen);
        var gy = randn(2, cout, 5, 6, dtype: float64, generator: gen);

        var (x1, w1) = (x0.detach().requires_grad_(), w0.detach().requires_grad_());
        var y1 = FusedConv3x3.Apply(x1, w1, FusedConv3x3.Torch.Instance);
        y1.backward([gy]);
        var (x2, w2) = (x0.detach().requires_grad_(), w0.detach().requires_grad_());
        var y2 = F.conv2d(x2, w2, null, padding: [1, 1], groups: groups);
        y2.backward([gy]);

        TestTorch.AssertClose(y2, y1, 1e-12, 1e-12, "y");
        TestTorch.AssertClose(x2.grad!, x1.grad!, 1e-12, 1e-12, "dL/dx");
        TestTorch.AssertClose(w2.grad!, w1.grad!, 1e-12, 1e-12, "dL/dw");
    }

    /// <summary>
    /// With a box for the output's batch statistics the node hands them over (one group per channel in the torch
    /// formulation: count, mean, M2) and its autograd is unchanged; the fused batch norm + ReLU given them normalises as
    /// with its own pass.
    /// </summary>
    [Fact]
    public void The_node_hands_its_output_s_statistics_to_the_batch_norm()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(9);
        var x0 = (randn(3, 8, 6, 7, generator: gen) * 2 + 1).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        var w0 = randn(8, 8, 3, 3, generator: gen);
        var gy = randn(3, 8, 6, 7, generator: gen);
        var box = new System.Runtime.CompilerServices.StrongBox<Tensor?>();
        var (x1, w1) = (x0.detach().requires_grad_(), w0.detach().requires_grad_());
        var y1 = FusedConv3x3.Apply(x1, w1, FusedConv3x3.Torch.Instance, box);
        y1.backward([gy]);
        var (x2, w2) = (x0.detach().requires_grad_(), w0.detach().requires_grad_());
        var y2 = FusedConv3x3.Apply(x2, w2, FusedConv3x3.Torch.Instance);
        y2.backward([gy]);
        Assert.True(y1.eq(y2).all().item<bool>() && x1.grad!.eq(x2.grad!).all().item<bool>() && w1.grad!.eq(w2.grad!).all().item<bool>());

        using var statistics = box.Value;
        Assert.NotNull(statistics);
        Assert.Equal([3, 8], statistics!.shape);
        var y64 = y2.detach().to(float64);
        TestTorch.AssertClose(full(8, 3.0 * 6 * 7, dtype: float64), statistics[0].to(float64), 0, 0, "counts");
        TestTorch.AssertClose(y64.mean([0, 2, 3]), statistics[1].to(float64), 1e-6, 1e-6, "means");

        var bn = TorchSharp.torch.nn.BatchNorm2d(8);
        bn.train();
        Tensor Normalised(Tensor? given)
        {
            var (y, _, _) = BatchNormRelu.Torch.Instance.BatchNormReluForward(y2.detach(), bn.weight, bn.bias, zeros(8), ones(8), null, 0.1, 1e-5,
                statistics: given);
            return y;
        }
        TestTorch.AssertClose(Normalised(null), Normalised(statistics), 1e-5, 1e-5, "batch norm + ReLU with the handed statistics");
    }

    [Fact]
    public void Only_the_gradients_asked_for_are_computed()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 3, 4, 4);                       // the images: no gradient
        var w = randn(16, 3, 3, 3).requires_grad_();
        FusedConv3x3.Apply(x, w, FusedConv3x3.Torch.Instance).sum().backward();
        Assert.Null(x.grad);
        Assert.NotNull(w.grad);
    }

    [Fact]
    public void The_kernels_are_taken_only_for_their_form()
    {
        using var scope = NewDisposeScope();
        var x = randn(1, 16, 8, 8).permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
        var w = randn(16, 16, 3, 3);
        long[] one = [1, 1], two = [2, 2], zero = [0, 0];
        Assert.True(FusedConv3x3.Shaped(x, w, one, one, one, 1));
        Assert.False(FusedConv3x3.Shaped(x.contiguous(), w, one, one, one, 1));                  // NCHW
        Assert.False(FusedConv3x3.Shaped(x, w, two, one, one, 1));                               // stride 2
        Assert.False(FusedConv3x3.Shaped(x, w, one, zero, one, 1));                              // no padding
        Assert.False(FusedConv3x3.Shaped(x, w, one, one, two, 1));                               // dilated
        Assert.False(FusedConv3x3.Shaped(x, randn(16, 16, 1, 1), one, one, one, 1));             // 1 × 1
        Assert.False(FusedConv3x3.Shaped(x.to(float64), w.to(float64), one, one, one, 1));       // float64
        Assert.True(FusedConv3x3.Shaped(x, randn(16, 1, 3, 3), one, one, one, 16));              // depthwise
        Assert.False(FusedConv3x3.Shaped(x, randn(16, 1, 3, 3), one, one, one, 1));              // groups disagree
        // The CPU never takes the CUDA kernels, and the result is PyTorch's convolution.
        Assert.Null(FusedConv3x3.KernelsFor(x, w, one, one, one, 1));
        TestTorch.AssertClose(F.conv2d(x, w, null, padding: [1, 1]), FusedConv3x3.Forward(x, w, null, one, one, one, 1), 0, 0, "CPU");
    }
}
