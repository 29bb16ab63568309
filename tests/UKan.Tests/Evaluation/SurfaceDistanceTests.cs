using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

public class SurfaceDistanceTests
{
    static bool[] RandomBlobs(Random rng, int[] shape, double density)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        return Enumerable.Range(0, n).Select(_ => rng.NextDouble() < density).ToArray();
    }

    static int[] Coord(int index, int[] shape)
    {
        var c = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--) { c[d] = index % shape[d]; index /= shape[d]; }
        return c;
    }

    /// <summary>O(n²) reference: every distance between the two point sets checked directly.</summary>
    static double? BruteHd95(bool[] a, bool[] b, int[] shape, bool wholeForeground)
    {
        if (!a.Contains(true) || !b.Contains(true)) return null;
        var sa = wholeForeground ? a : SurfaceDistance.Surface(a, shape);
        var sb = wholeForeground ? b : SurfaceDistance.Surface(b, shape);
        var pa = Enumerable.Range(0, a.Length).Where(i => sa[i]).Select(i => Coord(i, shape)).ToList();
        var pb = Enumerable.Range(0, b.Length).Where(i => sb[i]).Select(i => Coord(i, shape)).ToList();
        double Nearest(int[] p, List<int[]> set) => set.Min(q => Math.Sqrt(p.Zip(q).Sum(t => (double)(t.First - t.Second) * (t.First - t.Second))));
        var all = pa.Select(p => Nearest(p, pb)).Concat(pb.Select(p => Nearest(p, pa))).ToList();
        return SurfaceDistance.Percentile(all, 95);
    }

    [Theory]
    [InlineData(new[] { 23, 31 }, false, 0.05)]
    [InlineData(new[] { 17, 9 }, false, 0.4)]
    [InlineData(new[] { 3, 1, 12, 14 }, true, 0.1)]    // the official (B, 1, H, W) case
    [InlineData(new[] { 4, 9, 11 }, false, 0.2)]
    public void Distance_transform_hd95_equals_brute_force(int[] shape, bool wholeForeground, double density)
    {
        var rng = new Random(shape.Sum());
        for (int trial = 0; trial < 5; trial++)
        {
            var a = RandomBlobs(rng, shape, density);
            var b = RandomBlobs(rng, shape, density);
            var fast = SurfaceDistance.Hd95(a, b, shape, wholeForeground);
            var brute = BruteHd95(a, b, shape, wholeForeground);
            Assert.Equal(brute is null, fast is null);
            if (brute is double expected) Assert.Equal(expected, fast!.Value, 9);
        }
    }

    [Fact]
    public void Hd95_is_symmetric_translation_invariant_and_null_for_empty_masks()
    {
        int[] shape = [40, 40];
        bool[] Square(int x0, int y0, int s) => Enumerable.Range(0, 1600).Select(i => i % 40 >= x0 && i % 40 < x0 + s && i / 40 >= y0 && i / 40 < y0 + s).ToArray();
        var a = Square(5, 5, 10);
        var b = Square(8, 6, 12);
        Assert.Equal(SurfaceDistance.Hd95(a, b, shape), SurfaceDistance.Hd95(b, a, shape));
        Assert.Equal(SurfaceDistance.Hd95(a, b, shape)!.Value, SurfaceDistance.Hd95(Square(15, 15, 10), Square(18, 16, 12), shape)!.Value, 12);
        Assert.Equal(0.0, SurfaceDistance.Hd95(a, a, shape));
        Assert.Null(SurfaceDistance.Hd95(a, new bool[1600], shape));
    }

    [Fact]
    public void Surface_of_a_filled_square_is_its_outline()
    {
        int[] shape = [6, 6];
        var square = Enumerable.Range(0, 36).Select(i => i % 6 is >= 1 and <= 4 && i / 6 is >= 1 and <= 4).ToArray();
        Assert.Equal(12, SurfaceDistance.Surface(square, shape).Count(v => v));   // 16 pixels, 4 interior
    }
}
