namespace UKan.Evaluation;

/// <summary>
/// Exact Euclidean distance transform on an N-D grid with per-axis spacing, by the separable lower-envelope
/// algorithm of Felzenszwalb and Huttenlocher ("Distance Transforms of Sampled Functions", Theory of Computing 8,
/// 2012): the squared distance is a sum over axes, so the transform is a sequence of 1-D transforms
/// D(q) = min_p ( w²(q − p)² + f(p) ), each solved in linear time as the lower envelope of parabolas. O(N·rank).
/// With integer spacing every value is an integer held exactly in a double, so the result is bit-identical to any
/// other exact method (e.g. scipy's <c>distance_transform_edt</c>).
/// </summary>
public static class DistanceTransform
{
    /// <summary>Grids at least this large are transformed with several threads (lines are independent).</summary>
    const int ParallelVolume = 1 << 17;

    /// <summary>
    /// Squared Euclidean distance from every grid point to the nearest site (true in <paramref name="sites"/>);
    /// +∞ everywhere when there is no site.
    /// </summary>
    public static double[] SquaredToNearest(ReadOnlySpan<bool> sites, ReadOnlySpan<int> shape, ReadOnlySpan<double> spacing)
    {
        var field = new double[GridLines.Volume(shape)];
        if (sites.Length != field.Length) throw new ArgumentException($"sites has {sites.Length} elements, shape needs {field.Length}");
        for (int i = 0; i < field.Length; i++) field[i] = sites[i] ? 0.0 : double.PositiveInfinity;
        SquaredInPlace(field, shape, spacing);
        return field;
    }

    /// <summary>
    /// Generalized transform in place: field(q) ← min_p ( |q − p|² + field(p) ) with |·| the spaced Euclidean norm.
    /// Start from 0 at sites and +∞ elsewhere to get squared distances to the nearest site. Only the first
    /// Π shape elements of <paramref name="field"/> are used.
    /// </summary>
    public static unsafe void SquaredInPlace(Span<double> field, ReadOnlySpan<int> shape, ReadOnlySpan<double> spacing)
    {
        int volume = GridLines.Volume(shape);
        if (field.Length < volume) throw new ArgumentException($"field has {field.Length} elements, shape needs {volume}");
        if (spacing.Length != shape.Length) throw new ArgumentException($"spacing has {spacing.Length} values for {shape.Length} axes");
        int longest = 0;
        foreach (var n in shape) longest = Math.Max(longest, n);
        int threads = volume >= ParallelVolume ? Math.Min(Environment.ProcessorCount, 8) : 1;
        fixed (double* pinned = field)
        {
            double* f = pinned;
            for (int axis = shape.Length - 1; axis >= 0; axis--)
            {
                if (shape[axis] == 1) continue; // a line of one point is its own envelope
                var lines = GridLines.Along(shape, axis);
                double w2 = spacing[axis] * spacing[axis];
                if (!(w2 > 0 && double.IsFinite(w2))) throw new ArgumentException($"spacing must be positive and finite, got {spacing[axis]}");
                if (threads == 1)
                {
                    TransformLines(f, lines, w2, 0, lines.Count, new LineBuffers(longest));
                    continue;
                }
                int chunk = (lines.Count + threads - 1) / threads;
                Parallel.For(0, threads, t =>
                    TransformLines(f, lines, w2, t * chunk, Math.Min(lines.Count, (t + 1) * chunk), new LineBuffers(longest)));
            }
        }
    }

    sealed class LineBuffers(int n)
    {
        public readonly double[] Values = new double[n];
        public readonly int[] Apex = new int[n];          // v: positions of the parabolas of the envelope
        public readonly double[] Bound = new double[n + 1]; // z: where envelope parabola k starts
    }

    static unsafe void TransformLines(double* f, GridLines lines, double w2, int from, int to, LineBuffers buffers)
    {
        var g = buffers.Values;
        for (int line = from; line < to; line++)
        {
            double* p = f + lines.Start(line);
            int stride = lines.Stride, n = lines.Length;
            for (int q = 0; q < n; q++) g[q] = p[(long)q * stride];
            Transform1D(g, n, w2, buffers.Apex, buffers.Bound, p, stride);
        }
    }

    /// <summary>
    /// 1-D lower envelope of the parabolas y = w²(x − p)² + g(p) over the finite samples g(p); writes the envelope
    /// at every integer x into <paramref name="output"/> (strided). Infinite samples are no parabola; a line with
    /// none stays +∞.
    /// </summary>
    static unsafe void Transform1D(double[] g, int n, double w2, int[] v, double[] z, double* output, int stride)
    {
        int k = -1;
        for (int q = 0; q < n; q++)
        {
            double gq = g[q];
            if (double.IsPositiveInfinity(gq)) continue;
            if (k < 0)
            {
                k = 0;
                v[0] = q;
                z[0] = double.NegativeInfinity;
                z[1] = double.PositiveInfinity;
                continue;
            }
            double s;
            while (true)
            {
                int r = v[k];
                // abscissa where the parabola of q overtakes the one of r
                s = (gq + w2 * q * q - (g[r] + w2 * r * r)) / (2 * w2 * (q - r));
                if (s > z[k]) break;
                k--; // parabola r is hidden everywhere; z[0] = −∞ stops this at k = 0
            }
            k++;
            v[k] = q;
            z[k] = s;
            z[k + 1] = double.PositiveInfinity;
        }
        if (k < 0) return; // no site on this line: it stays +∞
        k = 0;
        for (int q = 0; q < n; q++)
        {
            while (z[k + 1] < q) k++;
            double d = q - v[k];
            output[(long)q * stride] = w2 * d * d + g[v[k]];
        }
    }
}
