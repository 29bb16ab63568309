namespace UKan.Evaluation;

/// <summary>
/// Hausdorff distances between binary masks on a pixel grid, through exact Euclidean distance transforms
/// (Felzenszwalb &amp; Huttenlocher 2012: the squared distance is a lower envelope of parabolas, computed one axis at a
/// time). HD95 is the 95th percentile (linear interpolation, numpy's default) of the union of both directed sets of
/// surface-to-nearest-surface distances, as medpy.metric.binary.hd95 defines it.
/// </summary>
public static class SurfaceDistance
{
    /// <summary>
    /// Surface voxels of a mask: foreground minus its erosion by the cross (connectivity 1), where voxels outside
    /// the array count as background (scipy's binary_erosion with border_value 0).
    /// </summary>
    public static bool[] Surface(ReadOnlySpan<bool> mask, int[] shape)
    {
        var strides = Strides(shape);
        var surface = new bool[mask.Length];
        var coord = new int[shape.Length];
        for (int i = 0; i < mask.Length; i++)
        {
            if (mask[i])
            {
                bool interior = true;
                for (int d = 0; d < shape.Length && interior; d++)
                {
                    int c = coord[d];
                    if (c == 0 || c == shape[d] - 1 || !mask[i - strides[d]] || !mask[i + strides[d]]) interior = false;
                }
                surface[i] = !interior;
            }
            for (int d = shape.Length - 1; d >= 0; d--) { if (++coord[d] < shape[d]) break; coord[d] = 0; }
        }
        return surface;
    }

    /// <summary>Euclidean distance from every voxel to the nearest voxel of <paramref name="set"/> (∞ when the set is empty).</summary>
    public static double[] DistanceToSet(ReadOnlySpan<bool> set, int[] shape, double[]? spacing = null)
    {
        int n = set.Length;
        var f = new double[n];
        for (int i = 0; i < n; i++) f[i] = set[i] ? 0 : double.PositiveInfinity;
        var strides = Strides(shape);
        int maxLen = shape.Max();
        var line = new double[maxLen];
        var result = new double[maxLen];
        var v = new int[maxLen];
        var z = new double[maxLen + 1];
        for (int d = 0; d < shape.Length; d++)
        {
            int len = shape[d], stride = strides[d];
            if (len == 1) continue;
            double w = spacing?[d] ?? 1.0;
            // Every line along axis d: start positions are the indices whose coordinate d is 0.
            for (int start = 0; start < n; start++)
            {
                if ((start / stride) % len != 0) continue;
                for (int k = 0; k < len; k++) line[k] = f[start + k * stride];
                Transform1D(line, len, w * w, result, v, z);
                for (int k = 0; k < len; k++) f[start + k * stride] = result[k];
            }
        }
        for (int i = 0; i < n; i++) f[i] = Math.Sqrt(f[i]);
        return f;
    }

    // 1-D squared distance transform of sampled function g with grid step² = s2 (Felzenszwalb & Huttenlocher).
    static void Transform1D(double[] g, int len, double s2, double[] d, int[] v, double[] z)
    {
        int k = -1;
        for (int q = 0; q < len; q++)
        {
            if (double.IsPositiveInfinity(g[q])) continue;
            if (k < 0) { k = 0; v[0] = q; z[0] = double.NegativeInfinity; z[1] = double.PositiveInfinity; continue; }
            double s;
            while (true)
            {
                int p = v[k];
                s = ((g[q] + s2 * q * q) - (g[p] + s2 * p * p)) / (2 * s2 * (q - p));
                if (s <= z[k]) { k--; if (k < 0) break; } else break;
            }
            k++;
            v[k] = q; z[k] = k == 0 ? double.NegativeInfinity : s; z[k + 1] = double.PositiveInfinity;
        }
        if (k < 0) { for (int q = 0; q < len; q++) d[q] = double.PositiveInfinity; return; }
        int j = 0;
        for (int q = 0; q < len; q++)
        {
            while (z[j + 1] < q) j++;
            double dq = q - v[j];
            d[q] = s2 * dq * dq + g[v[j]];
        }
    }

    /// <summary>
    /// medpy's hd95(a, b) on arrays of <paramref name="shape"/>; null when either mask is empty (medpy raises).
    /// <paramref name="wholeForeground"/> treats every foreground voxel as surface, which is what medpy's erosion
    /// does on the reference's (B, 1, H, W) arrays (the length-1 channel axis erodes everything).
    /// </summary>
    public static double? Hd95(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b, int[] shape, bool wholeForeground = false, double[]? spacing = null)
    {
        if (!a.Contains(true) || !b.Contains(true)) return null;
        var sa = wholeForeground ? a.ToArray() : Surface(a, shape);
        var sb = wholeForeground ? b.ToArray() : Surface(b, shape);
        var toB = DistanceToSet(sb, shape, spacing);
        var toA = DistanceToSet(sa, shape, spacing);
        var distances = new List<double>();
        for (int i = 0; i < sa.Length; i++) if (sa[i]) distances.Add(toB[i]);
        for (int i = 0; i < sb.Length; i++) if (sb[i]) distances.Add(toA[i]);
        return Percentile(distances, 95);
    }

    /// <summary>numpy.percentile with linear interpolation.</summary>
    public static double Percentile(List<double> values, double q)
    {
        values.Sort();
        double rank = q / 100 * (values.Count - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return values[lo] + (values[hi] - values[lo]) * (rank - lo);
    }

    static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
        return s;
    }
}
