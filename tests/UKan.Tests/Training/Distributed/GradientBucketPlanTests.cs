using UKan.Training;
using UKan.Training.Distributed;

namespace UKan.Tests.Training.Distributed;

public class GradientBucketPlanTests
{
    /// <summary>Groups laid out as FlatAdam lays them out (aligned offsets), members numbered by model order <paramref name="orders"/>.</summary>
    internal static List<(IReadOnlyList<GradientBucketPlan.Member> Members, long Length)> Groups(long[][] sizes, int[][] orders)
    {
        var groups = new List<(IReadOnlyList<GradientBucketPlan.Member>, long)>();
        for (int g = 0; g < sizes.Length; g++)
        {
            var (offsets, total) = FlatAdam.Layout(sizes[g], FlatAdam.AlignBytes / 4);
            groups.Add((sizes[g].Select((n, i) => new GradientBucketPlan.Member(offsets[i], n, orders[g][i])).ToList(), total));
        }
        return groups;
    }

    [Fact]
    public void Buckets_tile_every_buffer_hold_whole_parameters_within_the_cap_and_are_ordered_latest_first()
    {
        // Two groups with interleaved model order (as the official parameter groups are): group 0 holds the even
        // model positions, group 1 the odd ones.
        long[][] sizes = [[300, 64, 500, 1500, 20, 700, 64], [128, 900, 50, 400]];
        int[][] orders = [[0, 2, 4, 6, 8, 10, 12], [1, 3, 5, 7]];
        var groups = Groups(sizes, orders);
        const long cap = 1200 * 4;
        var plan = new GradientBucketPlan(groups, cap);

        for (int g = 0; g < groups.Count; g++)
        {
            // Contiguous ranges that cover the whole buffer (alignment gaps included), no overlaps.
            var ranges = plan.Buckets.Where(b => b.Group == g).OrderBy(b => b.Start).ToList();
            Assert.Equal(0, ranges[0].Start);
            for (int i = 1; i < ranges.Count; i++) Assert.Equal(ranges[i - 1].Start + ranges[i - 1].Length, ranges[i].Start);
            Assert.Equal(groups[g].Length, ranges[^1].Start + ranges[^1].Length);
        }
        int first1 = sizes[0].Length;
        var memberOf = Enumerable.Range(0, first1 + sizes[1].Length)
            .Select(p => p < first1 ? groups[0].Members[p] : groups[1].Members[p - first1]).ToList();
        Assert.Equal(Enumerable.Range(0, memberOf.Count), plan.Buckets.SelectMany(b => b.Parameters).Order());
        for (int b = 0; b < plan.Buckets.Count; b++)
        {
            var bucket = plan.Buckets[b];
            foreach (var p in bucket.Parameters)
            {
                Assert.Equal(b, plan.BucketOf[p]);
                var m = memberOf[p];
                Assert.InRange(m.Offset, bucket.Start, bucket.Start + bucket.Length - m.Count);
            }
            Assert.True(bucket.Parameters.Length == 1 || bucket.Parameters.Sum(p => memberOf[p].Count) * 4 <= cap, $"bucket {b} over the cap");
        }
        // Launch order: by the earliest model position in the bucket, latest first (backward reaches it last).
        var earliest = plan.Buckets.Select(b => b.Parameters.Min(p => memberOf[p].Order)).ToList();
        Assert.Equal(earliest.OrderDescending(), earliest);
        Assert.True(plan.Buckets.Count >= 4, $"expected several buckets, got {plan.Buckets.Count}");
        // Worked by hand: each buffer is filled from its end (group 0: 64 + 700 + 20 floats, then parameter 3, larger
        // than the cap, alone, then the rest; group 1: 400 + 50, then 900 + 128), and the buckets are ordered by their
        // earliest model positions 8, 6, 5, 1, 0.
        Assert.Equal([[4, 5, 6], [3], [9, 10], [7, 8], [0, 1, 2]], plan.Buckets.Select(b => b.Parameters));
    }

    [Fact]
    public void One_small_group_is_one_bucket_over_the_whole_buffer()
    {
        var groups = Groups([[10, 20, 30]], [[0, 1, 2]]);
        var plan = new GradientBucketPlan(groups);
        var only = Assert.Single(plan.Buckets);
        Assert.Equal((0, 0L, groups[0].Length), (only.Group, only.Start, only.Length));
        Assert.Equal([0, 1, 2], only.Parameters);
    }
}
