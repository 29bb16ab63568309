using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Layers;

/// <summary>
/// The fused relu(2 × 2 max-pooling) node (<see cref="MaxPoolRelu"/>): its torch formulation, the reference of the CUDA
/// kernels (which <c>ukan selftest --device cuda</c> compares with PyTorch's operations, and
/// Native/MaxPoolReluEmulationTests runs on the CPU), against <c>relu(F.max_pool2d(...))</c> and autograd's gradient on
/// data with ties and NaNs; where the node is used and where PyTorch's operations run as before.
/// </summary>
public class MaxPoolReluTests
{
    static MaxPoolReluTests() => _ = TestTorch.Runtime;

    static Tensor Operations(Tensor x) => F.max_pool2d(x, 2, 2).relu();

    /// <summary>
    /// (N, C, H, W) test data in NCHW or channels-last: values on a grid of 0.5 (ties within windows are common) with
    /// NaNs planted in image 0, channel 0 (with H, W ≥ 4): window (0, 0) holds 5 then a NaN (the NaN must win), window
    /// (1, 1) two NaNs (the last must win).
    /// </summary>
    internal static Tensor TiesAndNaNs(bool channelsLast, int n, int c, int h, int w, Generator gen)
    {
        var values = (randn(n, h, w, c, generator: gen) * 2).round() / 2 - 0.75;
        if (h >= 4 && w >= 4)
        {
            values[0, 0, 0, 0].fill_(5);
            values[0, 0, 1, 0].fill_(float.NaN);
            values[0, 2, 2, 0].fill_(float.NaN);
            values[0, 3, 3, 0].fill_(float.NaN);
        }
        return channelsLast ? values.permute(0, 3, 1, 2) : values.permute(0, 3, 1, 2).contiguous();
    }

    /// <summary>Equal element by element, NaN where <paramref name="expected"/> has NaN.</summary>
    internal static void AssertSameWithNaNs(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        Assert.True(expected.isnan().eq(actual.isnan()).all().item<bool>(), $"{what}: NaNs differ");
        TestTorch.AssertClose(expected.nan_to_num(0), actual.nan_to_num(0), 0, 0, what);
    }

    /// <summary>
    /// Whether the data decides the tie and NaN rules: some window has a positive maximum that occurs more than once
    /// (ties to the first), and the output has NaNs (a NaN wins). Without them a kernel that broke either rule would pass.
    /// </summary>
    internal static void AssertDataHasTiesAndNaNs(Tensor x)
    {
        long oh = x.shape[2] / 2, ow = x.shape[3] / 2;
        var windows = x.narrow(2, 0, 2 * oh).narrow(3, 0, 2 * ow).reshape(x.shape[0], x.shape[1], oh, 2, ow, 2);
        var max = windows.amax([3, 5], keepdim: true);
        var tiedPositive = windows.eq(max).sum([3, 5]).gt(1).logical_and(max.squeeze(5).squeeze(3).gt(0));
        Assert.True(tiedPositive.any().item<bool>(), "the test data must have ties at a positive window maximum");
        Assert.True(max.isnan().any().item<bool>(), "the test data must have NaN windows");
    }

    [Theory]
    [InlineData(false, 3, 5, 7)]
    [InlineData(true, 3, 6, 9)]
    [InlineData(true, 4, 2, 2)]
    [InlineData(false, 1, 3, 8)]
    public void The_torch_formulation_is_relu_of_max_pool_with_its_gradient(bool channelsLast, int c, int h, int w)
    {
        var gen = new Generator(8);
        var x0 = TiesAndNaNs(channelsLast, 2, c, h, w, gen);
        var gy = randn(2, c, h / 2, w / 2, generator: gen);

        var xf = x0.detach().requires_grad_(true);
        var yf = MaxPoolRelu.Apply(xf, MaxPoolRelu.Torch.Instance);
        var gf = autograd.grad([(yf * gy).sum()], [xf])[0];
        var xo = x0.detach().requires_grad_(true);
        var yo = Operations(xo);
        var go = autograd.grad([(yo * gy).sum()], [xo])[0];

        Assert.True(yo.eq(0).any().item<bool>() && yo.gt(0).any().item<bool>(), "the test data must reach both sides of the ReLU");
        AssertSameWithNaNs(yo, yf, "output");
        TestTorch.AssertClose(go, gf, 0, 0, "dx");
        Assert.Equal(TensorLayout.DenseChannelsLast(x0), TensorLayout.DenseChannelsLast(gf));
    }

    [Fact]
    public void Ties_go_to_the_first_maximum_and_the_last_nan_wins()
    {
        // One image, one channel, 2 × 6: windows [1 1; 0 0], [nan 3; 3 nan], [-1 -1; -1 -2] (relu's result 0: no gradient).
        var x = tensor(new float[] { 1, 1, float.NaN, 3, -1, -1, 0, 0, 3, float.NaN, -1, -2 }).reshape(1, 1, 2, 6);
        var g = tensor(new float[] { 10, 20, 30 }).reshape(1, 1, 1, 3);
        var dx = MaxPoolRelu.Torch.Instance.MaxPoolTwiceReluBackward(x, g);
        Assert.Equal(new float[] { 10, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0 }, dx.flatten().data<float>().ToArray());
        var y = MaxPoolRelu.Torch.Instance.MaxPoolTwiceRelu(x).flatten().data<float>().ToArray();
        Assert.Equal(1f, y[0]);
        Assert.True(float.IsNaN(y[1]));
        Assert.Equal(0f, y[2]);
    }

    [Fact]
    public void On_the_cpu_the_operations_run_even_when_the_fused_node_is_forced_and_grads_flow()
    {
        var x = randn(2, 3, 4, 5).requires_grad_(true);
        Assert.Null(MaxPoolRelu.With(true, () => MaxPoolRelu.KernelsFor(x)));
        var y = MaxPoolRelu.With(true, () => MaxPoolRelu.Forward(x));
        Assert.True(y.eq(Operations(x)).all().item<bool>());
        y.sum().backward();
        Assert.NotNull(x.grad);
    }

    [Fact]
    public void The_kernels_take_float32_or_bfloat16_dense_nchw_or_channels_last_of_at_least_one_window()
    {
        Assert.True(MaxPoolRelu.Takes(zeros(2, 3, 4, 5)));
        Assert.True(MaxPoolRelu.Takes(zeros(2, 4, 5, 3).permute(0, 3, 1, 2)));
        Assert.True(MaxPoolRelu.Takes(zeros(2, 3, 4, 5, dtype: bfloat16)));
        Assert.True(MaxPoolRelu.Takes(zeros(2, 4, 5, 3, dtype: bfloat16).permute(0, 3, 1, 2)));
        Assert.False(MaxPoolRelu.Takes(zeros(2, 3, 4, 5, dtype: float16)));
        Assert.False(MaxPoolRelu.Takes(zeros(2, 3, 1, 5, dtype: bfloat16)));
        Assert.True(MaxPoolRelu.Takes(zeros(1, 1, 2, 2)));
        Assert.False(MaxPoolRelu.Takes(zeros(2, 3, 1, 5)));
        Assert.False(MaxPoolRelu.Takes(zeros(2, 3, 4, 1)));
        Assert.False(MaxPoolRelu.Takes(zeros(2, 3, 4, 5, dtype: float64)));
        Assert.False(MaxPoolRelu.Takes(zeros(2, 3, 5, 4).transpose(2, 3)));
        Assert.False(MaxPoolRelu.Takes(zeros(2, 3, 8, 5).narrow(2, 0, 4)));
    }
}
