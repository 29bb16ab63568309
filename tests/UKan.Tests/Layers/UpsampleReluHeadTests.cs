using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Tests.Layers;

/// <summary>
/// The fused last upsampling with the segmentation head (<see cref="UpsampleReluHead"/>): its torch formulation (the
/// kernels' reference, which Native/UpsampleReluHeadEmulationTests runs the kernels against) as a node against
/// <c>conv2d(relu(F.interpolate(...)))</c> and autograd's gradients of x, w and b; which heads and inputs the kernels
/// take; and that the CPU keeps the separate operations.
/// </summary>
public class UpsampleReluHeadTests
{
    static UpsampleReluHeadTests() => _ = TestTorch.Runtime;

    static Tensor Operations(Tensor x, Tensor w, Tensor b) =>
        F.conv2d(F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: false).relu(), w, b);

    [Theory]
    [InlineData(16, 1, 5, 7)]
    [InlineData(8, 3, 1, 1)]
    [InlineData(32, 4, 2, 9)]
    public void The_torch_formulation_as_a_node_is_the_two_operations_with_their_gradients(int c, int k, int h, int w)
    {
        var gen = new Generator(8);
        var x0 = (randn(2, h, w, c, generator: gen) + 0.2).permute(0, 3, 1, 2);
        var w0 = randn(k, c, 1, 1, generator: gen) * 0.3;
        var b0 = randn(k, generator: gen);
        var gz = randn(2, k, 2 * h, 2 * w, generator: gen);

        (Tensor Z, Tensor[] Grads) Run(Func<Tensor, Tensor, Tensor, Tensor> f)
        {
            var (x, wt, b) = (x0.detach().requires_grad_(true), w0.detach().requires_grad_(true), b0.detach().requires_grad_(true));
            var z = f(x, wt, b);
            return (z, [.. autograd.grad([(z * gz).sum()], [x, wt, b])]);
        }
        var fused = Run((x, wt, b) => UpsampleReluHead.Apply(x, wt, b, UpsampleRelu.Torch.Instance));
        var operations = Run(Operations);

        TestTorch.AssertClose(operations.Z, fused.Z, 1e-5, 1e-5, "z");
        TestTorch.AssertClose(operations.Grads[0], fused.Grads[0], 1e-5, 1e-5, "dx");
        TestTorch.AssertClose(operations.Grads[1], fused.Grads[1], 1e-4, 1e-5, "dw");
        TestTorch.AssertClose(operations.Grads[2], fused.Grads[2], 1e-4, 1e-5, "db");
        Assert.Equal(x0.stride(), fused.Grads[0].stride());                          // dL/dx in x's layout
    }

    [Fact]
    public void The_kernels_take_a_float32_channels_last_map_of_4_to_64_channels_and_up_to_4_classes()
    {
        static Tensor Map(long c, ScalarType dtype = ScalarType.Float32) => zeros(2, 5, 6, c, dtype: dtype).permute(0, 3, 1, 2);
        Assert.True(UpsampleReluHead.Takes(Map(16), zeros(1, 16, 1, 1), zeros(1)));
        Assert.True(UpsampleReluHead.Takes(Map(64), zeros(4, 64, 1, 1), null));
        Assert.True(UpsampleReluHead.Takes(Map(4), zeros(2, 4, 1, 1), zeros(2)));
        Assert.False(UpsampleReluHead.Takes(Map(2), zeros(2, 2, 1, 1), zeros(2)));
        Assert.False(UpsampleReluHead.Takes(zeros(2, 16, 5, 6), zeros(1, 16, 1, 1), zeros(1)));          // NCHW
        Assert.False(UpsampleReluHead.Takes(Map(16, ScalarType.BFloat16), zeros(1, 16, 1, 1), zeros(1)));
        Assert.False(UpsampleReluHead.Takes(Map(12), zeros(1, 12, 1, 1), zeros(1)));                     // 3 lanes a pixel
        Assert.False(UpsampleReluHead.Takes(Map(128), zeros(1, 128, 1, 1), zeros(1)));                   // 64 lanes a pixel
        Assert.False(UpsampleReluHead.Takes(Map(1), zeros(1, 1, 1, 1), zeros(1)));
        Assert.False(UpsampleReluHead.Takes(Map(16), zeros(5, 16, 1, 1), zeros(5)));                     // 5 classes
        Assert.False(UpsampleReluHead.Takes(Map(16), zeros(1, 16, 3, 3), zeros(1)));
        Assert.False(UpsampleReluHead.Takes(Map(16), zeros(1, 8, 1, 1), zeros(1)));
        Assert.False(UpsampleReluHead.Takes(Map(16), zeros(1, 16, 1, 1), zeros(2)));
        Assert.False(UpsampleReluHead.Takes(Map(17).narrow(1, 1, 16), zeros(1, 16, 1, 1), zeros(1)));   // not 16-byte aligned
    }

    [Fact]
    public void Only_a_plain_1x1_convolution_with_a_bias_is_a_head_the_kernels_run()
    {
        Assert.NotNull(UpsampleReluHead.Conv(nn.Conv2d(16, 1, 1)));
        Assert.Null(UpsampleReluHead.Conv(nn.Conv2d(16, 1, 1, bias: false)));
        Assert.Null(UpsampleReluHead.Conv(nn.Conv2d(16, 1, 3, padding: 1)));
        Assert.Null(UpsampleReluHead.Conv(nn.Conv2d(16, 1, 1, stride: 2)));
        Assert.Null(UpsampleReluHead.Conv(nn.Conv2d(16, 1, 1, padding: 1)));
        Assert.Null(UpsampleReluHead.Conv(nn.Conv2d(16, 4, 1, groups: 4)));
        Assert.Null(UpsampleReluHead.Conv(nn.Identity()));
    }

    [Fact]
    public void On_the_cpu_the_head_runs_after_the_upsampling_even_when_fused_nodes_are_forced()
    {
        var x = (randn(2, 4, 5, 16) + 0.2).permute(0, 3, 1, 2).requires_grad_(true);
        var head = nn.Conv2d(16, 2, 1);
        Assert.Null(UpsampleRelu.With(true, () => UpsampleReluHead.KernelsFor(x, head.weight!, head.bias)));
        var z = UpsampleRelu.With(true, () => UpsampleReluHead.Forward(x, head));
        Assert.True(z.equal(head.call(UpsampleRelu.Forward(x))).all().item<bool>());
        z.sum().backward();
        Assert.NotNull(x.grad);
        Assert.NotNull(head.weight!.grad);
    }
}
