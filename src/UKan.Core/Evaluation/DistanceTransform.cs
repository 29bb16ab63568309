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
        SquaredToNearest(sites, shape, spacing, field);
        return field;
    }

    /// <summary>
    /// As <see cref="SquaredToNearest(ReadOnlySpan{bool}, ReadOnlySpan{int}, ReadOnlySpan{double})"/>, into the first
    /// Π shape elements of <paramref name="field"/>. The last axis is done by two scans (distance to the previous and
    /// the next site), which is what the parabola envelope gives on 0/∞ input, only cheaper; the other axes by
    /// <see cref="SquaredInPlace"/>.
    /// </summary>
    public static void SquaredToNearest(ReadOnlySpan<bool> sites, ReadOnlySpan<int> shape, ReadOnlySpan<double> spacing, Span<double> field)
    {
        int volume = GridLines.Volume(shape);
        if (sites.Length != volume || field.Length < volume)
            throw new ArgumentException($"sites ({sites.Length}) and field ({field.Length}) must hold the {volume} grid points");
        if (spacing.Length != shape.Length) throw new ArgumentException($"spacing has {spacing.Length} values for {shape.Length} axes");
        int n = shape[^1];
        double w2 = CheckedSquare(spacing[^1]);
        for (int start = 0; start < volume; start += n)
            NearestOnLine(sites.Slice(start, n), w2, field.Slice(start, n));
        Envelopes(field[..volume], shape, spacing, axes: shape.Length - 1);
    }

    /// <summary>w²·(distance to the nearest site on the line)², +∞ without a site.</summary>
    static void NearestOnLine(ReadOnlySpan<bool> sites, double w2, Span<double> output)
    {
        int n = sites.Length, previous = -1;
        for (int q = 0; q < n; q++)
        {
            if (sites[q]) previous = q;
            output[q] = previous < 0 ? double.PositiveInfinity : Squared(w2, q - previous);
        }
        if (previous < 0) return;
        int next = -1;
        for (int q = n - 1; q >= 0; q--)
        {
            if (sites[q]) next = q;
            if (next >= 0) output[q] = Math.Min(output[q], Squared(w2, next - q));
        }
    }

    /// <summary>w²·d², evaluated as the envelope evaluates it.</summary>
    static double Squared(double w2, double d) => w2 * d * d;

    static double CheckedSquare(double spacing)
    {
        double w2 = spacing * spacing;
        if (!(w2 > 0 && double.IsFinite(w2))) throw new ArgumentException($"spacing must be positive and finite, got {spacing}");
        return w2;
    }

    /// <summary>
    /// Generalized transform in place: field(q) ← min_p ( |q − p|² + field(p) ) with |·| the spaced Euclidean norm.
    /// Start from 0 at sites and +∞ elsewhere to get squared distances to the nearest site. Only the first
    /// Π shape elements of <paramref name="field"/> are used.
    /// </summary>
    public static void SquaredInPlace(Span<double> field, ReadOnlySpan<int> shape, ReadOnlySpan<double> spacing) =>
        Envelopes(field, shape, spacing, shape.Length);

    /// <summary>The 1-D envelope transform along axes <paramref name="axes"/> − 1 down to 0.</summary>
    static unsafe void Envelopes(Span<double> field, ReadOnlySpan<int> shape, ReadOnlySpan<double> spacing, int axes)
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
            for (int axis = axes - 1; axis >= 0; axis--)
            {
                if (shape[axis] == 1) continue; // a line of one point is its own envelope
                var lines = GridLines.Along(shape, axis);
                double w2 = CheckedSquare(spacing[axis]);
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
            output[(long)q * stride] = Squared(w2, q - v[k]) + g[v[k]];
        }
    }
}
