using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// Our custom autograd functions leave no tensor of a step alive for the garbage collector: the incoming gradient
/// TorchSharp wraps for backward is disposed (<see cref="HandedBackGradients.Backward(Tensor?)"/>), the gradients handed back
/// are disposed at the thread's next call, and the output templates TorchSharp allocates per call are freed right
/// after the call (<see cref="OutputTemplates"/>). Before, each call left an activation-sized tensor for the collector
/// (the incoming gradient) and held another until the graph was freed (the template).
/// </summary>
public class CustomFunctionMemoryTests
{
    static CustomFunctionMemoryTests() => _ = TestTorch.Runtime;

    /// <summary>Each custom function of the layers, as a forward from its input (which requires grad).</summary>
    public static TheoryData<string> Functions =>
        ["batch norm + ReLU", "KAN linear", "KAN fused weight", "KAN fused weights of two layers", "shared activation (recompute)", "bilinear upsample (deterministic)",
         "relu(×2 upsampling)", "relu(2 × 2 max-pool)", "LayerNorm", "3 × 3 convolution"];

    static Func<Tensor, Tensor> Forward(string function)
    {
        switch (function)
        {
            case "batch norm + ReLU":
                var bn = nn.BatchNorm2d(3);
                bn.train();
                return x => BatchNormRelu.Apply(bn, x, BatchNormRelu.Torch.Instance);
            case "KAN linear":
                var kan = new KanLinear(3, 4) { Path = KanPath.Fast };
                return x => kan.call(x.reshape(-1, 3));
            case "KAN fused weight":
                var baseWeight = zeros(6, 4);
                var scaler = ones(6, 4);
                return x => KanWeight.Apply([new(baseWeight, x.reshape(6, 4, 5), scaler)], KanWeight.Torch.Instance)[0];
            case "KAN fused weights of two layers":
                var second = zeros(6, 4, 5);
                return x => cat(KanWeight.Apply([new(zeros(6, 4), x.reshape(6, 4, 5), ones(6, 4)), new(x.reshape(6, 4, 5).sum(-1), second, null)],
                    KanWeight.Torch.Instance).Select(w => w.flatten()).ToArray());
            case "shared activation (recompute)":
                var psi = new SharedActivation(new SharedActivationOptions { Gradient = SplineGradient.GradFreeRecompute });
                return psi.call;
            case "relu(×2 upsampling)":
                return x => UpsampleRelu.Apply(x, UpsampleRelu.Torch.Instance);
            case "relu(2 × 2 max-pool)":
                return x => MaxPoolRelu.Apply(x, MaxPoolRelu.Torch.Instance);
            case "LayerNorm":
                var norm = nn.LayerNorm(5);
                return x => FusedLayerNorm.Apply(norm, x, FusedLayerNorm.Torch.Instance);
            case "3 × 3 convolution":
                var weight = (randn(4, 3, 3, 3) * 0.3).requires_grad_(true);
                return x => FusedConv3x3.Apply(x, weight, FusedConv3x3.Torch.Instance);
            default:
                return x => BilinearUpsample.With(deterministic: true, () => BilinearUpsample.Twice(x));
        }
    }

    [Theory]
    [MemberData(nameof(Functions))]
    public void Backward_leaves_no_tensor_alive(string function)
    {
        var forward = Forward(function);
        using var scope = NewDisposeScope();
        var x = (randn(2, 3, 4, 5) * 2).requires_grad_(true);
        var loss = forward(x).pow(2).sum();
        // Backward on a thread with no dispose scope, as on autograd's CUDA threads (a CPU backward runs on the
        // calling thread): what it leaves alive there would wait for the garbage collector.
        long live = -1;
        var thread = new Thread(() =>
        {
            DisposeScopeManager.Statistics.Reset();
            loss.backward();
            HandedBackGradients.Release();
            live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        });
        thread.Start();
        thread.Join();
        Assert.True(x.grad is { } g && g.abs().sum().item<float>() > 0, "the gradient reached the input");
        Assert.Equal(0, live);
    }

    [Theory]
    [MemberData(nameof(Functions))]
    public void The_output_templates_are_freed_after_the_call(string function)
    {
        var forward = Forward(function);
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 4, 5).requires_grad_(true);
        _ = forward(x);
        Assert.True(OutputTemplates.Supported, "TorchSharp's AutogradContext no longer has the field OutputTemplates reads");
        Assert.Equal(function == "KAN fused weights of two layers" ? 2 : 1, OutputTemplates.LastDropped);   // one per output
    }
}
