using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

public class DistanceTransformTests
{
    public static TheoryData<int[], double[]> Grids => new()
    {
        { [1], [1.0] },
        { [17], [1.0] },
        { [13, 9], [1.0, 1.0] },
        { [13, 9], [0.7, 1.9] },
        { [5, 6, 7], [1.0, 2.0, 0.5] },
        { [3, 1, 11, 10], [1.0, 1.0, 1.0, 1.0] },
        { [4, 2, 6, 5], [1.5, 1.0, 0.8, 1.2] },
    };

    [Theory]
    [MemberData(nameof(Grids))]
    public void Matches_brute_force_nearest_site(int[] shape, double[] spacing)
    {
        var rng = new Random(shape.Sum() * 31 + (int)(spacing.Sum() * 10));
        int volume = shape.Aggregate(1, (a, b) => a * b);
        foreach (var density in new[] { 0.0, 0.02, 0.2, 0.9 })
        {
            var sites = Enumerable.Range(0, volume).Select(_ => rng.NextDouble() < density).ToArray();
            if (density > 0 && !sites.Contains(true)) sites[rng.Next(volume)] = true;
            var expected = BruteForce.SquaredToNearest(sites, shape, spacing);
            var actual = DistanceTransform.SquaredToNearest(sites, shape, spacing);
            for (int i = 0; i < volume; i++)
            {
                if (double.IsPositiveInfinity(expected[i])) Assert.True(double.IsPositiveInfinity(actual[i]));
                else MetricReferences.AssertRelative(expected[i], actual[i], 1e-12, $"point {i} density {density}");
            }
        }
    }

    [Fact]
    public void Generalized_transform_adds_the_initial_values()
    {
        // field(q) = min_p |q − p|² + f(p): with f = 0 at one point and 10 at another the envelope is their minimum
        int[] shape = [7, 9];
        var field = Enumerable.Repeat(double.PositiveInfinity, 63).ToArray();
        field[1 * 9 + 1] = 0;
        field[5 * 9 + 7] = 10;
        DistanceTransform.SquaredInPlace(field, shape, [1.0, 1.0]);
        for (int y = 0; y < 7; y++)
            for (int x = 0; x < 9; x++)
                Assert.Equal(Math.Min((y - 1) * (y - 1) + (x - 1) * (x - 1), (y - 5) * (y - 5) + (x - 7) * (x - 7) + 10.0), field[y * 9 + x]);
    }

    [Fact]
    public void Unit_spacing_distances_are_exact_integers()
    {
        var rng = new Random(5);
        int[] shape = [40, 33];
        var sites = Enumerable.Range(0, 40 * 33).Select(_ => rng.NextDouble() < 0.01).ToArray();
        var actual = DistanceTransform.SquaredToNearest(sites, shape, [1.0, 1.0]);
        Assert.Equal(BruteForce.SquaredToNearest(sites, shape, [1.0, 1.0]), actual);
        Assert.All(actual, d => Assert.Equal(Math.Round(d), d));
    }

    [Fact]
    public void Large_grid_uses_threads_and_matches_single_lines()
    {
        // 8x1x128x128 = 131072 points: the threaded path; compare against a per-image 2-D transform where the batch
        // axis cannot matter (every image has a site at the same place, so the nearest site is in-plane)
        int[] shape = [8, 1, 128, 128];
        var sites = new bool[8 * 128 * 128];
        var rng = new Random(11);
        for (int i = 0; i < 128 * 128; i++)
            if (rng.NextDouble() < 0.003)
                for (int b = 0; b < 8; b++) sites[b * 128 * 128 + i] = true;
        var all = DistanceTransform.SquaredToNearest(sites, shape, [1.0, 1.0, 1.0, 1.0]);
        var one = DistanceTransform.SquaredToNearest(sites.AsSpan(0, 128 * 128), [128, 128], [1.0, 1.0]);
        for (int b = 0; b < 8; b++) Assert.Equal(one, all.AsSpan(b * 128 * 128, 128 * 128).ToArray());
    }
}
