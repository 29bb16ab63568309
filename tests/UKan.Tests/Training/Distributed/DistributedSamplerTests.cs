using UKan.Data;
using UKan.Training.Distributed;

namespace UKan.Tests.Training.Distributed;

public class DistributedSamplerTests
{
    static readonly List<string> Ids = Enumerable.Range(0, 53).Select(i => $"img{i:D3}").ToList();

    [Theory]
    [InlineData(1, 8)]
    [InlineData(2, 4)]
    [InlineData(3, 5)]
    [InlineData(4, 2)]
    public void Every_image_is_seen_at_most_once_per_epoch_and_all_but_the_dropped_remainder(int world, int batch)
    {
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var seen = Enumerable.Range(0, world).SelectMany(r => DistributedSampler.EpochPlan(Ids, batch, 2981, epoch, r, world)).SelectMany(p => p.Ids).ToList();
            Assert.Equal(seen.Count, seen.Distinct().Count());
            // drop_last over the global batch: fewer than world × batch images are left out.
            Assert.Equal(Ids.Count / (world * batch) * world * batch, seen.Count);
            Assert.All(seen, id => Assert.Contains(id, Ids));
        }
    }

    [Fact]
    public void The_workers_together_see_what_one_process_with_the_global_batch_sees_step_by_step()
    {
        const int world = 2, batch = 4;
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var single = SegmentationDataset.EpochPlan(Ids, batch * world, 6142, epoch);
            var ranks = Enumerable.Range(0, world).Select(r => DistributedSampler.EpochPlan(Ids, batch, 6142, epoch, r, world)).ToList();
            Assert.All(ranks, r => Assert.Equal(single.Count, r.Count));
            for (int s = 0; s < single.Count; s++)
            {
                Assert.Equal(single[s].Ids, ranks.SelectMany(r => r[s].Ids));
                Assert.Equal(single[s].Choices, ranks.SelectMany(r => r[s].Choices));
                Assert.All(ranks, r => Assert.Equal(batch, r[s].Count));
            }
        }
    }

    [Fact]
    public void One_worker_is_the_single_process_plan_and_epochs_differ()
    {
        var one = DistributedSampler.EpochPlan(Ids, 8, 1187, 0, 0, 1);
        var plain = SegmentationDataset.EpochPlan(Ids, 8, 1187, 0);
        Assert.Equal(plain.SelectMany(p => p.Ids), one.SelectMany(p => p.Ids));
        Assert.NotEqual(one.SelectMany(p => p.Ids), DistributedSampler.EpochPlan(Ids, 8, 1187, 1, 0, 1).SelectMany(p => p.Ids));
        Assert.Throws<ArgumentOutOfRangeException>(() => DistributedSampler.EpochPlan(Ids, 8, 1187, 0, 2, 2));
    }
}
