using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using UKan.Training.Distributed;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// The fused training-mode batch norm + ReLU node (<see cref="BatchNormRelu"/>): its torch formulation, the reference
/// of the CUDA kernels (which <c>ukan selftest --device cuda</c> compares with it and with the modules), against
/// BatchNorm2d followed by ReLU on the CPU; where the node is used and where the modules run as before.
/// </summary>
public class BatchNormReluTests
{
    static BatchNormReluTests() => _ = TestTorch.Runtime;

    /// <summary>A batch norm with distinct weights, biases and running statistics per channel.</summary>
    static BatchNorm2d Layer(int channels, double momentum)
    {
        var bn = nn.BatchNorm2d(channels, momentum: momentum);
        using (no_grad())
        {
            bn.weight!.copy_(linspace(0.5, 1.5, channels));
            bn.bias!.copy_(linspace(-0.3, 0.4, channels));
            bn.running_mean!.copy_(linspace(-0.1, 0.1, channels));
            bn.running_var!.copy_(linspace(0.8, 1.2, channels));
        }
        bn.train();
        return bn;
    }

    [Theory]
    [InlineData(true, 0.1)]
    [InlineData(false, 0.1)]
    [InlineData(true, 1.0)]
    public void The_torch_formulation_is_batch_norm_then_relu(bool channelsLast, double momentum)
    {
        const int n = 4, c = 6, h = 5, w = 7;
        var gen = new Generator(11);
        var x0 = randn(n, h, w, c, generator: gen) * 1.5 + 0.3;
        x0 = channelsLast ? x0.permute(0, 3, 1, 2) : x0.permute(0, 3, 1, 2).contiguous();
        var gy = randn(n, c, h, w, generator: gen);
        var fused = Layer(c, momentum);
        var modules = Layer(c, momentum);

        var xf = x0.detach().requires_grad_(true);
        var yf = BatchNormRelu.Apply(fused, xf, BatchNormRelu.Torch.Instance);
        var gf = autograd.grad([(yf * gy).sum()], [xf, fused.weight!, fused.bias!]);
        var xm = x0.detach().requires_grad_(true);
        var ym = nn.functional.relu(modules.call(xm));
        var gm = autograd.grad([(ym * gy).sum()], [xm, modules.weight!, modules.bias!]);

        Assert.True(ym.lt(0).any().item<bool>() == false && ym.eq(0).any().item<bool>(), "the test data must reach both sides of the ReLU");
        TestTorch.AssertClose(ym, yf, 1e-5, 1e-5, "output");
        TestTorch.AssertClose(modules.running_mean!, fused.running_mean!, 1e-6, 1e-5, "running mean");
        TestTorch.AssertClose(modules.running_var!, fused.running_var!, 1e-6, 1e-5, "running variance (unbiased)");
        Assert.Equal(modules.num_batches_tracked!.item<long>(), fused.num_batches_tracked!.item<long>());
        TestTorch.AssertClose(gm[0], gf[0], 1e-5, 1e-4, "dx");
        TestTorch.AssertClose(gm[1], gf[1], 1e-5, 1e-4, "dw");
        TestTorch.AssertClose(gm[2], gf[2], 1e-5, 1e-4, "db");
    }

    /// <summary>
    /// A residual handed to the node (the KAN blocks' x + layer(norm(x))): relu(bn(x)) + r against the modules and an
    /// addition, the residual's gradient (the node's own argument) included; and the KAN block's forward on the CPU, where
    /// the addition stays after the layer, against the block written out.
    /// </summary>
    [Fact]
    public void A_residual_is_added_to_the_output_and_gets_the_incoming_gradient()
    {
        const int n = 2, c = 5, h = 4, w = 3;
        var gen = new Generator(21);
        var x0 = (randn(n, h, w, c, generator: gen) + 0.2).permute(0, 3, 1, 2);
        var r0 = randn(n, h, w, c, generator: gen).permute(0, 3, 1, 2);
        var gy = randn(n, c, h, w, generator: gen);
        var (fused, modules) = (Layer(c, 0.1), Layer(c, 0.1));
        var (xf, rf) = (x0.detach().requires_grad_(true), r0.detach().requires_grad_(true));
        var yf = BatchNormRelu.Apply(fused, xf, BatchNormRelu.Torch.Instance, residual: rf);
        var gf = autograd.grad([(yf * gy).sum()], [xf, rf, fused.weight!, fused.bias!]);
        var (xm, rm) = (x0.detach().requires_grad_(true), r0.detach().requires_grad_(true));
        var ym = nn.functional.relu(modules.call(xm)) + rm;
        var gm = autograd.grad([(ym * gy).sum()], [xm, rm, modules.weight!, modules.bias!]);
        TestTorch.AssertClose(ym, yf, 1e-5, 1e-5, "output");
        string[] names = ["dx", "d(residual)", "dw", "db"];
        for (int i = 0; i < 4; i++) TestTorch.AssertClose(gm[i], gf[i], 1e-5, 1e-4, names[i]);
        Assert.True(BatchNormRelu.TakesResidual(x0, r0));
        Assert.False(BatchNormRelu.TakesResidual(x0, r0.contiguous()), "other strides than x's: added after the node");
        Assert.False(BatchNormRelu.MayTakeResidual(x0), "the CPU adds the residual after the layer");
    }

    [Fact]
    public void A_gradient_with_other_strides_than_x_gives_the_same_result()
    {
        const int n = 2, c = 4, h = 3, w = 5;
        var x0 = (randn(n, h, w, c, generator: new Generator(3)) + 0.2).permute(0, 3, 1, 2);   // channels-last
        var gy = randn(n, c, h, w, generator: new Generator(4));                              // contiguous NCHW
        var bn = Layer(c, 0.1);
        var x = x0.detach().requires_grad_(true);
        var y = BatchNormRelu.Apply(bn, x, BatchNormRelu.Torch.Instance);
        var g = autograd.grad([(y * gy).sum()], [x])[0];
        var reference = Layer(c, 0.1);
        var xr = x0.detach().requires_grad_(true);
        var gr = autograd.grad([(nn.functional.relu(reference.call(xr)) * gy).sum()], [xr])[0];
        TestTorch.AssertClose(gr, g, 1e-5, 1e-4, "dx");
    }

    [Fact]
    public void The_modules_run_where_the_fused_node_does_not_apply()
    {
        var bn = Layer(8, 0.1);
        var channelsLast = randn(2, 5, 5, 8).permute(0, 3, 1, 2);
        // The CPU: no fused kernels, whatever the layout.
        Assert.Null(BatchNormRelu.KernelsFor(bn, channelsLast));
        // And the result is the modules' (ReLU applied once, through the module given).
        var relu = nn.ReLU();
        var calls = 0;
        relu.register_forward_hook((_, _, output) => { calls++; return output; });
        var y = BatchNormRelu.Forward(bn, channelsLast, relu);
        Assert.Equal(1, calls);
        var reference = Layer(8, 0.1);
        TestTorch.AssertClose(nn.functional.relu(reference.call(channelsLast)), y, 1e-6, 1e-6, "output");
    }

    [Fact]
    public void Synchronised_batch_norm_keeps_its_layers_on_the_module_forward()
    {
        var model = nn.Sequential(("conv", nn.Conv2d(3, 4, 3, padding: 1)), ("bn", nn.BatchNorm2d(4)), ("relu", nn.ReLU()));
        var bn = (BatchNorm2d)model.named_children().Single(c => c.name == "bn").module;
        Assert.False(BatchNormRelu.IsExcluded(bn));
        Assert.Equal(1, SyncBatchNorm.Attach(model, collectives: null!));   // attaching uses no collective; only a forward would
        Assert.True(BatchNormRelu.IsExcluded(bn));
    }

    [Fact]
    public void Channels_last_dense_means_a_row_major_rows_by_channels_matrix()
    {
        Assert.True(TensorLayout.IsChannelsLastDense(zeros(2, 3, 4, 5).permute(0, 3, 1, 2)));
        Assert.False(TensorLayout.IsChannelsLastDense(zeros(2, 5, 3, 4)));
        Assert.False(TensorLayout.IsChannelsLastDense(zeros(2, 4, 6, 5).permute(0, 3, 1, 2)[.., .., 0..3]));   // a crop: rows not dense
        Assert.True(TensorLayout.IsChannelsLastDense(zeros(2, 1, 1, 5).permute(0, 3, 1, 2)));                // size-1 dims: any stride
        Assert.False(TensorLayout.IsChannelsLastDense(zeros(2, 3, 4)));
    }

    [Fact]
    public void An_incoming_gradient_is_brought_to_the_layout_the_kernels_index()
    {
        var channelsLast = randn(2, 3, 4, 5).permute(0, 3, 1, 2);            // (2, 5, 3, 4), channels-last strides
        var nchw = channelsLast.contiguous();
        Assert.Same(channelsLast, TensorLayout.WithStrides(channelsLast, channelsLast.stride()));   // already so: no copy
        var copy = TensorLayout.WithStrides(nchw, channelsLast.stride());
        Assert.Equal(channelsLast.stride(), copy.stride());
        Assert.True(copy.equal(nchw).all().item<bool>());
        Assert.Equal(ScalarType.Float64, TensorLayout.WithStrides(nchw, channelsLast.stride(), ScalarType.Float64).dtype);
    }
}
