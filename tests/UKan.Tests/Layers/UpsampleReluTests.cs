using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Layers;

/// <summary>
/// The fused relu(×2 bilinear upsampling) node (<see cref="UpsampleRelu"/>): its torch formulation, the reference of
/// the CUDA kernels (which <c>ukan selftest --device cuda</c> compares with PyTorch's operations, and
/// Native/UpsampleReluEmulationTests runs on the CPU), against <c>relu(F.interpolate(...))</c> and autograd's gradient;
/// where the node is used and where PyTorch's operations run as before.
/// </summary>
public class UpsampleReluTests
{
    static UpsampleReluTests() => _ = TestTorch.Runtime;

    static Tensor Operations(Tensor x) =>
        F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false).relu();

    [Theory]
    [InlineData(false, 3, 5, 7)]
    [InlineData(true, 3, 5, 7)]
    [InlineData(true, 2, 1, 1)]
    [InlineData(false, 1, 2, 9)]
    public void The_torch_formulation_is_relu_of_interpolate_with_its_gradient(bool channelsLast, int c, int h, int w)
    {
        var gen = new Generator(6);
        var values = randn(2, h, w, c, generator: gen) + 0.2;
        var x0 = channelsLast ? values.permute(0, 3, 1, 2) : values.permute(0, 3, 1, 2).contiguous();
        var gy = randn(2, c, 2 * h, 2 * w, generator: gen);

        var xf = x0.detach().requires_grad_(true);
        var yf = UpsampleRelu.Apply(xf, UpsampleRelu.Torch.Instance);
        var gf = autograd.grad([(yf * gy).sum()], [xf])[0];
        var xo = x0.detach().requires_grad_(true);
        var yo = Operations(xo);
        var go = autograd.grad([(yo * gy).sum()], [xo])[0];

        Assert.True(yo.eq(0).any().item<bool>() && yo.gt(0).any().item<bool>(), "the test data must reach both sides of the ReLU");
        TestTorch.AssertClose(yo, yf, 1e-6, 1e-6, "output");
        TestTorch.AssertClose(go, gf, 1e-5, 1e-5, "dx");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void The_node_with_the_skip_is_relu_of_interpolate_plus_the_skip_with_both_gradients(bool channelsLast)
    {
        var gen = new Generator(16);
        var values = randn(2, 3, 5, 4, generator: gen) + 0.2;
        var x0 = channelsLast ? values.permute(0, 3, 1, 2) : values.permute(0, 3, 1, 2).contiguous();
        var skipValues = randn(2, 6, 10, 4, generator: gen);
        var skip0 = channelsLast ? skipValues.permute(0, 3, 1, 2) : skipValues.permute(0, 3, 1, 2).contiguous();
        var gy = randn(2, 4, 6, 10, generator: gen);

        (Tensor Y, Tensor[] Grads) Run(Func<Tensor, Tensor, Tensor> f)
        {
            var (x, skip) = (x0.detach().requires_grad_(true), skip0.detach().requires_grad_(true));
            var y = f(x, skip);
            return (y, [.. autograd.grad([(y * gy).sum()], [x, skip])]);
        }
        var fused = Run((x, skip) => UpsampleRelu.Apply(x, skip, UpsampleRelu.Torch.Instance));
        var operations = Run((x, skip) => Operations(x) + skip);
        TestTorch.AssertClose(operations.Y, fused.Y, 1e-6, 1e-6, "output");
        TestTorch.AssertClose(operations.Grads[0], fused.Grads[0], 1e-5, 1e-5, "dx");
        Assert.True(fused.Grads[1].equal(gy).all().item<bool>(), "dL/dskip is dL/dy");
        Assert.True(UpsampleRelu.SkipFits(x0, skip0));
    }

    [Fact]
    public void The_kernels_add_only_a_skip_laid_out_as_the_output()
    {
        var x = zeros(2, 5, 6, 3).permute(0, 3, 1, 2);                                   // channels-last (2, 3, 5, 6)
        Assert.True(UpsampleRelu.SkipFits(x, zeros(2, 10, 12, 3).permute(0, 3, 1, 2)));
        Assert.False(UpsampleRelu.SkipFits(x, zeros(2, 3, 10, 12)));                    // NCHW
        Assert.False(UpsampleRelu.SkipFits(x, zeros(2, 10, 12, 3, dtype: bfloat16).permute(0, 3, 1, 2)));
        Assert.False(UpsampleRelu.SkipFits(x, zeros(2, 10, 14, 3).permute(0, 3, 1, 2)));
        Assert.False(UpsampleRelu.SkipFits(x, zeros(2, 10, 24, 3).permute(0, 3, 1, 2)[.., .., .., ..12]));
        Assert.True(UpsampleRelu.SkipFits(zeros(2, 3, 5, 6), zeros(2, 3, 10, 12)));
    }

    [Fact]
    public void On_the_cpu_the_skip_is_added_after_the_operations()
    {
        var x = randn(2, 3, 4, 5).requires_grad_(true);
        var skip = randn(2, 3, 8, 10).requires_grad_(true);
        var y = UpsampleRelu.With(true, () => UpsampleRelu.Forward(x, skip));
        Assert.True(y.equal(Operations(x) + skip).all().item<bool>());
        y.sum().backward();
        Assert.NotNull(x.grad);
        Assert.NotNull(skip.grad);
    }

    [Fact]
    public void On_the_cpu_the_operations_run_even_when_the_fused_node_is_forced_and_grads_flow()
    {
        var x = randn(2, 3, 4, 5).requires_grad_(true);
        Assert.Null(UpsampleRelu.With(true, () => UpsampleRelu.KernelsFor(x)));
        var y = UpsampleRelu.With(true, () => UpsampleRelu.Forward(x));
        Assert.True(y.equal(Operations(x)).all().item<bool>());
        y.sum().backward();
        Assert.NotNull(x.grad);
    }

    [Fact]
    public void The_kernels_take_float32_or_bfloat16_dense_nchw_or_channels_last_only()
    {
        Assert.True(UpsampleRelu.Takes(zeros(2, 3, 4, 5)));
        Assert.True(UpsampleRelu.Takes(zeros(2, 4, 5, 3).permute(0, 3, 1, 2)));
        Assert.True(UpsampleRelu.Takes(zeros(2, 3, 4, 5, dtype: bfloat16)));
        Assert.True(UpsampleRelu.Takes(zeros(2, 4, 5, 3, dtype: bfloat16).permute(0, 3, 1, 2)));
        Assert.False(UpsampleRelu.Takes(zeros(2, 3, 4, 5, dtype: float64)));
        Assert.False(UpsampleRelu.Takes(zeros(2, 3, 4, 5, dtype: float16)));
        Assert.False(UpsampleRelu.Takes(zeros(2, 3, 5, 4, dtype: bfloat16).transpose(2, 3)));
        Assert.False(UpsampleRelu.Takes(zeros(2, 3, 5, 4).transpose(2, 3)));
        Assert.False(UpsampleRelu.Takes(zeros(2, 3, 8, 5).narrow(2, 0, 4)));
        Assert.False(UpsampleRelu.Takes(zeros(3, 4, 5)));
        Assert.Equal(false, TensorLayout.DenseChannelsLast(zeros(2, 3, 4, 5)));
        Assert.Equal(true, TensorLayout.DenseChannelsLast(zeros(2, 4, 5, 3).permute(0, 3, 1, 2)));
    }
}
