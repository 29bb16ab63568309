using TorchSharp.Modules;
using UKan.Native;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The fused Adam kernel (Native/Kernels/adam.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/adam_harness.cpp: the geometry of <see cref="AdamKernels"/>) against <see cref="FlatAdam"/>'s torch
/// formulation from the same state: a group with alignment gaps, at step 5 of a run with random moments. (<c>ukan
/// selftest --device cuda</c> compares the two on a GPU.)
/// </summary>
public class AdamEmulationTests
{
    [Theory]
    [InlineData(false, false)]   // Adam, learning rate and step as values
    [InlineData(false, true)]    // Adam, as device scalars (the graph-replayable step)
    [InlineData(true, false)]    // AdamW
    public void The_kernel_computes_the_torch_formulation(bool decoupled, bool capturable)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(41);
        const double lr = 3e-3, weightDecay = 1e-2;
        var parameters = new[] { randn(37, 5, generator: gen), randn(300, generator: gen), randn(4, 3, 3, 3, generator: gen) }
            .Select((t, i) => ($"p{i}", new Parameter(t))).ToList();
        using var opt = new FlatAdam([(new GroupSettings("g", lr, weightDecay), parameters)], decoupledWeightDecay: decoupled, capturable: capturable);
        var group = opt.Groups[0];
        long n = group.Params.numel();
        opt.LoadState(new Dictionary<string, Tensor>
        {
            ["optimizer.g.exp_avg"] = randn(n, generator: gen) * 0.1,
            ["optimizer.g.exp_avg_sq"] = rand(n, generator: gen) * 0.01,
        }, stepCount: 4);
        using (no_grad()) group.Grads.copy_(randn(n, generator: gen));

        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "p", group.Params);
        CudaEmulation.Write(dir, "g", group.Grads);
        CudaEmulation.Write(dir, "m", group.ExpAvg);
        CudaEmulation.Write(dir, "v", group.ExpAvgSq);
        CudaEmulation.Run("adam_harness", dir, n, CudaEmulation.Text(lr), 5, capturable ? 1 : 0, CudaEmulation.Text(opt.Beta1),
            CudaEmulation.Text(opt.Beta2), CudaEmulation.Text(opt.Eps), CudaEmulation.Text(weightDecay), decoupled ? 1 : 0, CudaKernelModule.Block);

        var before = group.Params.clone();
        opt.Step();   // on the CPU: the torch formulation
        Assert.True((group.Params - before).abs().max().item<float>() > 1e-4, "the step must move the parameters");
        TestTorch.AssertClose(group.Params, CudaEmulation.Read(dir, "p.out", n), 1e-6, 1e-6, "parameters");
        TestTorch.AssertClose(group.ExpAvg, CudaEmulation.Read(dir, "m.out", n), 1e-8, 1e-6, "first moments");
        TestTorch.AssertClose(group.ExpAvgSq, CudaEmulation.Read(dir, "v.out", n), 1e-9, 1e-6, "second moments");
    }
}
