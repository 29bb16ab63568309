using UKan.Training.Distributed;
using static TorchSharp.torch;

namespace UKan.Tests.Training.Distributed;

public class TcpCollectivesTests
{
    /// <summary>Runs <paramref name="work"/> as <paramref name="world"/> workers on threads joined over loopback TCP.</summary>
    public static T[] OnWorkers<T>(int world, Func<ICollectives, T> work)
    {
        var endpoint = TcpCollectives.FreeLoopbackEndpoint();
        var results = new T[world];
        var errors = new Exception?[world];
        var threads = Enumerable.Range(0, world).Select(rank => new Thread(() =>
        {
            try
            {
                using var c = new TcpCollectives(endpoint, rank, world);
                results[rank] = work(c);
            }
            catch (Exception e) { errors[rank] = e; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        if (errors.FirstOrDefault(e => e is not null) is { } first) throw new AggregateException(first);
        return results;
    }

    [Fact]
    public void All_reduce_and_broadcast_give_every_worker_the_same_result()
    {
        _ = TestTorch.Runtime;
        var results = OnWorkers(3, c =>
        {
            var r = c.Rank;
            using var sum = tensor(new[] { r, 10f * r, 1f });
            c.AllReduce(sum, ReduceOp.Sum);
            using var avg = tensor(new[] { r, 2f });
            c.AllReduce(avg, ReduceOp.Average);
            using var max = tensor(new[] { r, -r }).to(float32);
            c.AllReduce(max, ReduceOp.Max);
            using var b = full(4, 7f + r);
            c.Broadcast(b);
            c.Barrier();
            return (sum.data<float>().ToArray(), avg.data<float>().ToArray(), max.data<float>().ToArray(), b.data<float>().ToArray());
        });
        foreach (var (sum, avg, max, b) in results)
        {
            Assert.Equal([3f, 30f, 3f], sum);
            Assert.Equal([1f, 2f], avg);
            Assert.Equal([2f, 0f], max);
            Assert.Equal([7f, 7f, 7f, 7f], b);
        }
    }

    [Fact]
    public void Workers_with_buffers_of_different_sizes_fail_instead_of_mixing_them()
    {
        _ = TestTorch.Runtime;
        var e = Assert.Throws<AggregateException>(() => OnWorkers(2, c =>
        {
            using var t = zeros(c.Rank + 2);
            c.AllReduce(t, ReduceOp.Sum);
            return 0;
        }));
        Assert.Contains(e.Flatten().InnerExceptions, x => x.Message.Contains("disagree") || x is IOException);
    }
}
