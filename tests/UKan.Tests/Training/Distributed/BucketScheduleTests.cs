using UKan.Training.Distributed;

namespace UKan.Tests.Training.Distributed;

public class BucketScheduleTests
{
    static GradientBucketPlan Plan() => new(GradientBucketPlanTests.Groups(
        [[300, 64, 500, 1500, 20, 700, 64], [128, 900, 50, 400]], [[0, 2, 4, 6, 8, 10, 12], [1, 3, 5, 7]]), 1200 * 4);

    /// <summary>What one worker issues in a step: the buckets started as parameters are reported, then the flush.</summary>
    static List<int> Issued(BucketSchedule schedule, IEnumerable<int> reports, List<int>? early = null)
    {
        schedule.Reset();
        var issued = new List<int>();
        foreach (var p in reports)
        {
            var now = schedule.Ready(p);
            issued.AddRange(now);
            early?.AddRange(now);
        }
        issued.AddRange(schedule.Flush());
        return issued;
    }

    [Fact]
    public void A_bucket_starts_when_complete_and_only_after_its_predecessors()
    {
        var plan = Plan();
        var schedule = new BucketSchedule(plan);
        Assert.True(plan.Buckets.Count >= 3);
        // Complete bucket 1 first: nothing may start (bucket 0 is not complete).
        var b1 = plan.Buckets[1].Parameters;
        foreach (var p in b1) Assert.Empty(schedule.Ready(p));
        // Completing bucket 0 starts 0 and then 1, in that order.
        var b0 = plan.Buckets[0].Parameters;
        foreach (var p in b0[..^1]) Assert.Empty(schedule.Ready(p));
        Assert.Equal([0, 1], schedule.Ready(b0[^1]));
        // A repeated report changes nothing.
        Assert.Empty(schedule.Ready(b0[0]));
        Assert.Equal(2, schedule.StartedEarly);
        Assert.Equal(Enumerable.Range(2, plan.Buckets.Count - 2), schedule.Flush());
        Assert.Empty(schedule.Flush());
    }

    [Fact]
    public void Every_worker_issues_every_bucket_once_in_plan_order_whatever_order_gradients_arrive_in()
    {
        var plan = Plan();
        int parameters = plan.BucketOf.Count;
        var rng = new Random(7);
        for (int trial = 0; trial < 200; trial++)
        {
            // Any arrival order, and some parameters unused (no gradient this step).
            var reports = Enumerable.Range(0, parameters).OrderBy(_ => rng.Next()).Where(_ => rng.NextDouble() > 0.1).ToList();
            var schedule = new BucketSchedule(plan);
            var early = new List<int>();
            Assert.Equal(Enumerable.Range(0, plan.Buckets.Count), Issued(schedule, reports, early));
            // Every bucket started early was complete when it started.
            foreach (var b in early) Assert.All(plan.Buckets[b].Parameters, p => Assert.Contains(p, reports));
        }
    }

    [Fact]
    public void Gradients_in_reverse_model_order_start_every_bucket_during_backward_and_reset_starts_over()
    {
        var plan = Plan();
        var schedule = new BucketSchedule(plan);
        int[] order = [0, 2, 4, 6, 8, 10, 12, 1, 3, 5, 7];   // model position of parameter p (group 0, then group 1)
        var backward = Enumerable.Range(0, order.Length).OrderByDescending(p => order[p]).ToList();
        for (int step = 0; step < 2; step++)
        {
            var early = new List<int>();
            Assert.Equal(Enumerable.Range(0, plan.Buckets.Count), Issued(schedule, backward, early));
            Assert.Equal(plan.Buckets.Count, early.Count);
            Assert.Equal(plan.Buckets.Count, schedule.StartedEarly);
        }
    }

    [Fact]
    public void Parameters_without_gradient_in_one_step_hold_no_bucket_back_in_the_next()
    {
        var plan = Plan();
        var schedule = new BucketSchedule(plan);
        int[] order = [0, 2, 4, 6, 8, 10, 12, 1, 3, 5, 7];
        var backward = Enumerable.Range(0, order.Length).OrderByDescending(p => order[p]).ToList();
        // One parameter of the first bucket and one of the last never get a gradient (biases a batch norm cancels).
        int[] unused = [plan.Buckets[0].Parameters[0], plan.Buckets[^1].Parameters[^1]];
        var reports = backward.Except(unused).ToList();
        var early = new List<int>();
        Assert.Equal(Enumerable.Range(0, plan.Buckets.Count), Issued(schedule, reports, early));
        Assert.Empty(early);   // the first bucket waits for the flush, and every other bucket behind it
        // A step without any report (no backward hooks) teaches nothing.
        Assert.Equal(Enumerable.Range(0, plan.Buckets.Count), Issued(schedule, []));
        for (int step = 0; step < 2; step++)
        {
            early.Clear();
            Assert.Equal(Enumerable.Range(0, plan.Buckets.Count), Issued(schedule, reports, early));
            Assert.Equal(plan.Buckets.Count, early.Count);
        }
        // One of them reporting after its bucket started would have missed the average: an error, not a silent one.
        schedule.Reset();
        foreach (var p in reports) schedule.Ready(p);
        Assert.Throws<InvalidOperationException>(() => schedule.Ready(unused[0]));
    }
}
