using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

public class PercentileTests
{
    [Theory]
    // values from numpy.percentile(v, 95) (numpy 1.24)
    [InlineData(new[] { 1.0, 2, 3, 4 }, 3.8499999999999996)]
    [InlineData(new[] { 5.0 }, 5.0)]
    [InlineData(new[] { 0.0, 10 }, 9.5)]
    [InlineData(new[] { 3.0, 1, 2 }, 2.9)]
    [InlineData(new[] { 1.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100 }, 1.0)]
    [InlineData(new[] { 1.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100 }, 5.95000000000007)]
    public void Matches_numpy_linear(double[] values, double expected) =>
        Assert.Equal(expected, Percentile.Linear(values.ToArray(), 0.95));

    [Fact]
    public void Selection_agrees_with_sorting_on_many_ties()
    {
        var rng = new Random(8);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = rng.Next(1, 300);
            var v = Enumerable.Range(0, n).Select(_ => (double)rng.Next(0, trial % 7 + 2)).ToArray();
            double q = rng.NextDouble();
            Assert.Equal(BruteForce.SortedPercentile(v, q), Percentile.Linear(v.ToArray(), q));
            int k = rng.Next(n);
            var copy = v.ToArray();
            Assert.Equal(v.OrderBy(x => x).ElementAt(k), Percentile.Select(copy, k));
            Assert.All(copy[..k], x => Assert.True(x <= copy[k]));
            Assert.All(copy[(k + 1)..], x => Assert.True(x >= copy[k]));
        }
    }
}
