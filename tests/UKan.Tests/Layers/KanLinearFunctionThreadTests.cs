using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Layers;

/// <summary>
/// <see cref="KanLinearFunction"/> disposes the gradients it handed to libtorch at the next call on the same thread
/// (<see cref="HandedBackGradients"/>): backward passes running at the same time on two threads (autograd's threads of
/// two devices, two trainers in one process) must not free each other's gradients before libtorch has copied them.
/// </summary>
public class KanLinearFunctionThreadTests
{
    [Fact]
    public async Task Backward_passes_on_two_threads_at_once_give_the_single_threaded_gradients()
    {
        _ = TestTorch.Runtime;
        manual_seed(11);
        var layer = new KanLinear(12, 6) { Path = KanPath.Fast };
        var inputs = Enumerable.Range(0, 2).Select(i => randn(16, 12) * (1 + i)).ToArray();

        Tensor[] Gradients(Tensor input)
        {
            using var scope = NewDisposeScope();
            var x = input.detach().clone().requires_grad_(true);
            var y = layer.call(x);
            var g = torch.autograd.grad([y.pow(2).sum()], [x, layer.SplineWeight, layer.BaseWeight]);
            return g.Select(t => t.detach().clone().MoveToOuterDisposeScope()).ToArray();
        }

        var reference = inputs.Select(Gradients).ToArray();
        const int rounds = 150;
        using var start = new Barrier(2);
        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(thread => Task.Factory.StartNew(() =>
        {
            start.SignalAndWait();
            var last = Array.Empty<Tensor>();
            for (int r = 0; r < rounds; r++)
            {
                foreach (var t in last) t.Dispose();
                last = Gradients(inputs[thread]);
                for (int i = 0; i < 3; i++)
                    if (!last[i].allclose(reference[thread][i], rtol: 1e-5, atol: 1e-6))
                        return $"thread {thread}, round {r}, gradient {i} differs from the single-threaded one";
            }
            return null;
        }, TaskCreationOptions.LongRunning)));
        Assert.All(results, Assert.Null);
    }

    [Fact]
    public void A_thread_releases_only_the_gradients_it_handed_back_itself()
    {
        _ = TestTorch.Runtime;
        var mine = HandedBackGradients.Keep(ones(3));
        Tensor? theirs = null;
        bool releasedTheirs = false;
        var other = new Thread(() =>
        {
            theirs = HandedBackGradients.Keep(zeros(2));
            HandedBackGradients.Release();   // another autograd thread's next call: must leave ours alone
            releasedTheirs = theirs.IsInvalid;
            theirs = HandedBackGradients.Keep(zeros(2));
        });
        other.Start();
        other.Join();
        Assert.True(releasedTheirs);
        Assert.False(mine.IsInvalid, "another thread disposed a gradient libtorch may not have copied yet");
        Assert.Equal(3f, mine.sum().item<float>());
        HandedBackGradients.Release();
        Assert.True(mine.IsInvalid);
        Assert.False(theirs!.IsInvalid);
        theirs.Dispose();
    }
}
