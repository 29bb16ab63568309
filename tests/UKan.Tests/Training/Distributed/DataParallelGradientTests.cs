using TorchSharp;
using UKan.Losses;
using UKan.Models;
using UKan.Training;
using UKan.Training.Distributed;
using static TorchSharp.torch;

namespace UKan.Tests.Training.Distributed;

/// <summary>
/// The data-parallel step on two CPU workers (threads over loopback TCP) against one process on the concatenated
/// batch: with synchronised batch norm the averaged gradients and the running statistics are the same (to float
/// rounding); with per-worker batch norm they are not, which shows that the comparison can tell.
/// </summary>
public class DataParallelGradientTests
{
    static readonly ModelSpec Spec = new() { EmbedDims = [32, 40, 64], Preset = "tiny" };

    static FlatAdam Optimizer(nn.Module<Tensor, Tensor> model) =>
        new(ParameterGroups.Official(model.named_parameters().Select(p => (p.name, p.parameter)).ToList(), 1e-3, 1e-4, 1e-2, 1e-4));

    static List<Tensor> RunningStats(nn.Module model) =>
        model.named_buffers().Where(b => b.name.EndsWith("running_mean") || b.name.EndsWith("running_var")).Select(b => b.buffer.clone()).ToList();

    sealed record Worker(List<Tensor> Grads, List<Tensor> Stats, List<Tensor> Params);

    static (List<Tensor> Grads, List<Tensor> Stats, Worker[] Workers) Run(bool sync)
    {
        _ = TestTorch.Runtime;
        manual_seed(11);
        var reference = ModelFactory.Create(Spec);
        var replicas = new[] { ModelFactory.Create(Spec), ModelFactory.Create(Spec) };
        // Worker 0 starts from the reference's weights, worker 1 from its own: the start-up broadcast must align them.
        replicas[0].load_state_dict(reference.state_dict());
        var x = randn(4, 3, 64, 64);
        var t = (rand(4, 1, 64, 64) > 0.5).to(float32);

        using var referenceOptimizer = Optimizer(reference);
        reference.train();
        referenceOptimizer.ZeroGrad();
        new BceDiceLoss().call(reference.call(x), t).backward();

        var workers = TcpCollectivesTests.OnWorkers(2, c =>
        {
            var model = replicas[c.Rank];
            using var optimizer = Optimizer(model);
            GradientReducer.BroadcastModel(c, optimizer, model);
            if (sync) Assert.Equal(model.named_modules().Count(m => m.module is TorchSharp.Modules.BatchNorm2d), SyncBatchNorm.Attach(model, c));
            model.train();
            optimizer.ZeroGrad();
            new BceDiceLoss().call(model.call(x.narrow(0, 2 * c.Rank, 2)), t.narrow(0, 2 * c.Rank, 2)).backward();
            new GradientReducer(c, optimizer).AverageGradients();
            return new Worker(optimizer.Groups.Select(g => g.Grads.clone()).ToList(), RunningStats(model), optimizer.Groups.Select(g => g.Params.clone()).ToList());
        });
        return (referenceOptimizer.Groups.Select(g => g.Grads.clone()).ToList(), RunningStats(reference), workers);
    }

    [Fact]
    public void Two_workers_with_sync_bn_average_to_the_gradients_of_one_process_on_the_whole_batch()
    {
        var (grads, stats, workers) = Run(sync: true);
        foreach (var w in workers)
        {
            for (int g = 0; g < grads.Count; g++) TestTorch.AssertClose(grads[g], w.Grads[g], atol: 1e-5, rtol: 1e-5, what: $"gradient group {g}");
            Assert.Equal(stats.Count, w.Stats.Count);
            for (int i = 0; i < stats.Count; i++) TestTorch.AssertClose(stats[i], w.Stats[i], atol: 1e-5, rtol: 1e-5, what: $"running statistic {i}");
        }
        // Both workers hold the same weights after the broadcast.
        for (int g = 0; g < grads.Count; g++) TestTorch.AssertClose(workers[0].Params[g], workers[1].Params[g], 0, 0, $"parameter group {g}");
    }

    [Fact]
    public void Per_worker_batch_norm_gives_other_gradients()
    {
        var (grads, _, workers) = Run(sync: false);
        double worst = grads.Select((g, i) => (g - workers[0].Grads[i]).abs().max().item<float>()).Max();
        Assert.True(worst > 1e-3, $"per-worker batch norm should change the gradients, largest difference {worst}");
    }
}
