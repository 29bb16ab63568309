using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

public class HausdorffTests
{
    public static TheoryData<int, int[], double[]> RandomGrids => new()
    {
        { 1, [12, 15], [1.0, 1.0] },
        { 2, [20, 9], [0.6, 1.7] },
        { 3, [1, 1, 14, 13], [1.0, 1.0, 1.0, 1.0] },
        { 4, [3, 1, 11, 12], [1.0, 1.0, 1.0, 1.0] },
        { 5, [4, 7, 8], [2.0, 1.0, 1.0] },
    };

    [Theory]
    [MemberData(nameof(RandomGrids))]
    public void Hd95_matches_brute_force(int seed, int[] shape, double[] spacing)
    {
        var rng = new Random(seed);
        for (int trial = 0; trial < 12; trial++)
        {
            var a = BruteForce.RandomMask(rng, shape, 0.02);
            var b = BruteForce.RandomMask(rng, shape, 0.02);
            var expected = BruteForce.Hd95(a, b, shape, spacing);
            var actual = Hausdorff.Hd95(a, b, shape, spacing);
            if (expected is null) Assert.Null(actual);
            else MetricReferences.AssertRelative(expected.Value, actual!.Value, 1e-12, $"trial {trial}");
        }
    }

    [Fact]
    public void Surface_matches_the_definition()
    {
        var rng = new Random(9);
        foreach (int[] shape in new[] { new[] { 9, 10 }, [2, 1, 6, 7], [3, 4, 5] })
        {
            var mask = BruteForce.RandomMask(rng, shape, 0.1);
            var surface = new bool[mask.Length];
            int count = BinaryMorphology.Surface(mask, shape, surface);
            Assert.Equal(BruteForce.Surface(mask, shape), surface);
            Assert.Equal(surface.Count(s => s), count);
        }
    }

    [Fact]
    public void Surface_of_a_batch_volume_is_the_whole_foreground()
    {
        // the length-1 channel axis erodes everything (border value 0): upstream's "surface" is the foreground
        var mask = BruteForce.RandomMask(new Random(2), [4, 1, 16, 16], 0.0);
        var surface = new bool[mask.Length];
        BinaryMorphology.Surface(mask, [4, 1, 16, 16], surface);
        Assert.Equal(mask, surface);
    }

    [Fact]
    public void Hd95_is_symmetric()
    {
        var rng = new Random(21);
        int[] shape = [30, 41];
        for (int trial = 0; trial < 10; trial++)
        {
            var a = BruteForce.RandomMask(rng, shape);
            var b = BruteForce.RandomMask(rng, shape);
            Assert.Equal(Hausdorff.Hd95(a, b, shape, [1.0, 1.3]), Hausdorff.Hd95(b, a, shape, [1.0, 1.3]));
        }
    }

    [Fact]
    public void Translating_both_masks_leaves_hd95_unchanged()
    {
        var rng = new Random(4);
        int[] small = [20, 24], large = [45, 50];
        for (int trial = 0; trial < 8; trial++)
        {
            var a = BruteForce.RandomMask(rng, small);
            var b = BruteForce.RandomMask(rng, small);
            var reference = Hausdorff.Hd95(a, b, small, [1.0, 1.0]);
            int dy = rng.Next(0, 25), dx = rng.Next(0, 26);
            var ta = Shift(a, small, large, dy, dx);
            var tb = Shift(b, small, large, dy, dx);
            Assert.Equal(reference, Hausdorff.Hd95(ta, tb, large, [1.0, 1.0]));
        }
    }

    [Fact]
    public void Known_values()
    {
        // single pixels 3-4-5 apart: every distance is 5
        var a = new bool[10 * 10];
        var b = new bool[10 * 10];
        a[1 * 10 + 2] = true;
        b[4 * 10 + 6] = true;
        Assert.Equal(5.0, Hausdorff.Hd95(a, b, [10, 10], [1.0, 1.0]));
        Assert.Equal(Math.Sqrt(9 * 0.25 + 16 * 4), Hausdorff.Hd95(a, b, [10, 10], [0.5, 2.0]));
        Assert.Null(Hausdorff.Hd95(a, new bool[100], [10, 10], [1.0, 1.0]));
        Assert.Equal(0.0, Hausdorff.Hd95(a, a, [10, 10], [1.0, 1.0]));
    }

    static bool[] Shift(bool[] mask, int[] from, int[] to, int dy, int dx)
    {
        var result = new bool[to[0] * to[1]];
        for (int y = 0; y < from[0]; y++)
            for (int x = 0; x < from[1]; x++)
                result[(y + dy) * to[1] + x + dx] = mask[y * from[1] + x];
        return result;
    }
}
