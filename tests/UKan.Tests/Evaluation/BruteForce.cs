using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

/// <summary>Slow, obviously-correct versions of the metrics (O(n²) nearest distances) and random test masks.</summary>
public static class BruteForce
{
    /// <summary>Surface by the definition: a foreground point with a missing or background axis neighbour.</summary>
    public static bool[] Surface(bool[] mask, int[] shape)
    {
        var surface = new bool[mask.Length];
        for (int i = 0; i < mask.Length; i++)
        {
            if (!mask[i]) continue;
            var x = Coordinates(i, shape);
            bool interior = true;
            for (int d = 0; d < shape.Length && interior; d++)
                foreach (var step in new[] { -1, 1 })
                {
                    var y = (int[])x.Clone();
                    y[d] += step;
                    if (y[d] < 0 || y[d] >= shape[d] || !mask[Index(y, shape)]) interior = false;
                }
            surface[i] = !interior;
        }
        return surface;
    }

    /// <summary>Squared spaced distance from every point to the nearest site, by trying every site.</summary>
    public static double[] SquaredToNearest(bool[] sites, int[] shape, double[] spacing)
    {
        var points = Enumerable.Range(0, sites.Length).Where(i => sites[i]).Select(i => Coordinates(i, shape)).ToArray();
        var result = new double[sites.Length];
        for (int i = 0; i < sites.Length; i++)
        {
            var x = Coordinates(i, shape);
            double best = double.PositiveInfinity;
            foreach (var p in points)
            {
                double s = 0;
                for (int d = 0; d < shape.Length; d++) s += (x[d] - p[d]) * spacing[d] * ((x[d] - p[d]) * spacing[d]);
                best = Math.Min(best, s);
            }
            result[i] = best;
        }
        return result;
    }

    /// <summary>HD95 from the definition: sorted union of both directed surface-distance sets, numpy linear percentile.</summary>
    public static double? Hd95(bool[] a, bool[] b, int[] shape, double[] spacing)
    {
        if (!a.Contains(true) || !b.Contains(true)) return null;
        bool[] sa = Surface(a, shape), sb = Surface(b, shape);
        double[] toB = SquaredToNearest(sb, shape, spacing), toA = SquaredToNearest(sa, shape, spacing);
        var all = Enumerable.Range(0, a.Length).Where(i => sa[i]).Select(i => Math.Sqrt(toB[i]))
            .Concat(Enumerable.Range(0, a.Length).Where(i => sb[i]).Select(i => Math.Sqrt(toA[i]))).ToArray();
        return SortedPercentile(all, 0.95);
    }

    /// <summary>numpy's linear percentile on a sorted copy.</summary>
    public static double SortedPercentile(double[] values, double fraction)
    {
        var v = values.OrderBy(x => x).ToArray();
        double h = (v.Length - 1) * fraction;
        int lo = (int)Math.Floor(h);
        if (lo >= v.Length - 1) return v[^1];
        double g = h - lo, diff = v[lo + 1] - v[lo];
        return g >= 0.5 ? v[lo + 1] - diff * (1 - g) : v[lo] + diff * g;
    }

    /// <summary>A few random boxes and discs plus some isolated pixels, per 2-D image of the grid.</summary>
    public static bool[] RandomMask(Random rng, int[] shape, double pixelNoise = 0.01)
    {
        int h = shape[^2], w = shape[^1];
        var mask = new bool[shape.Aggregate(1, (x, y) => x * y)];
        for (int image = 0; image < mask.Length / (h * w); image++)
        {
            int shapes = rng.Next(0, 3);
            for (int s = 0; s < shapes; s++)
            {
                int cy = rng.Next(h), cx = rng.Next(w), ry = rng.Next(1, h / 2 + 1), rx = rng.Next(1, w / 2 + 1);
                bool disc = rng.Next(2) == 0;
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                    {
                        double u = (double)(y - cy) / ry, v = (double)(x - cx) / rx;
                        if (disc ? u * u + v * v <= 1 : Math.Abs(u) <= 1 && Math.Abs(v) <= 1) mask[image * h * w + y * w + x] = true;
                    }
            }
            for (int i = 0; i < h * w; i++)
                if (rng.NextDouble() < pixelNoise) mask[image * h * w + i] ^= true;
        }
        return mask;
    }

    public static int[] Coordinates(int index, int[] shape)
    {
        var x = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--) { x[d] = index % shape[d]; index /= shape[d]; }
        return x;
    }

    public static int Index(int[] x, int[] shape)
    {
        int i = 0;
        for (int d = 0; d < shape.Length; d++) i = i * shape[d] + x[d];
        return i;
    }
}
