using UKan.Training.Distributed;
using static TorchSharp.torch;

namespace UKan.Tests.Training.Distributed;

public class TensorBucketsTests
{
    [Fact]
    public void Pack_and_unpack_round_trip_and_buckets_respect_the_cap()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        manual_seed(3);
        var tensors = new List<Tensor> { randn(3, 4), randn(10), randn(2, 2, 2), randn(40), randn(1) };
        var originals = tensors.Select(t => t.clone()).ToList();
        var buckets = new TensorBuckets(tensors, capBytes: 4 * 30);
        // In order, whole tensors, each bucket within the cap unless one tensor alone exceeds it.
        Assert.Equal(Enumerable.Range(0, tensors.Count), buckets.Buckets.SelectMany(b => b));
        foreach (var b in buckets.Buckets)
            Assert.True(b.Length == 1 || b.Sum(i => tensors[i].numel()) * 4 <= buckets.CapBytes);
        Assert.Contains(buckets.Buckets, b => b.SequenceEqual([3]));   // 40 floats: a bucket of its own

        for (int b = 0; b < buckets.Buckets.Count; b++)
        {
            var flat = buckets.Pack(b);
            Assert.Equal(buckets.Buckets[b].Sum(i => tensors[i].numel()), flat.numel());
            buckets.Unpack(b, flat * 2 + 1);
        }
        for (int i = 0; i < tensors.Count; i++) TestTorch.AssertClose(originals[i] * 2 + 1, tensors[i], 0, 0, $"tensor {i}");
        buckets.Apply(flat => flat.sub_(1).div_(2));
        for (int i = 0; i < tensors.Count; i++) TestTorch.AssertClose(originals[i], tensors[i], 1e-6, 0, $"tensor {i}");
    }
}
