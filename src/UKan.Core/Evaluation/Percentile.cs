namespace UKan.Evaluation;

/// <summary>Percentiles with numpy's default ("linear", Hyndman–Fan type 7) definition, by selection instead of sorting.</summary>
public static class Percentile
{
    /// <summary>
    /// numpy.percentile(values, 100·<paramref name="fraction"/>) with the default linear method, reproducing numpy's
    /// arithmetic: virtual index h = (n − 1)·fraction, a = x₍⌊h⌋₎, b = x₍⌊h⌋+1₎, γ = h − ⌊h⌋, result a + (b − a)·γ for
    /// γ &lt; 0.5 and b − (b − a)·(1 − γ) otherwise. Reorders <paramref name="values"/>. Expected O(n).
    /// </summary>
    public static double Linear(Span<double> values, double fraction)
    {
        if (values.IsEmpty) throw new ArgumentException("percentile of no values");
        if (!(fraction >= 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), "fraction must be in [0, 1]");
        int n = values.Length;
        double h = (n - 1) * fraction;
        if (h >= n - 1) return Max(values);
        int below = (int)Math.Floor(h);
        double gamma = h - below;
        double a = Select(values, below);
        double b = Min(values[(below + 1)..]); // after Select everything right of `below` is ≥ a
        double diff = b - a;
        return gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
    }

    /// <summary>
    /// The k-th smallest value (0-based); afterwards values[..k] ≤ values[k] ≤ values[(k+1)..]. Quickselect with a
    /// three-way partition, so the many equal distances of pixel grids do not degrade it.
    /// </summary>
    public static double Select(Span<double> values, int k)
    {
        if ((uint)k >= (uint)values.Length) throw new ArgumentOutOfRangeException(nameof(k));
        int lo = 0, hi = values.Length - 1;
        while (lo < hi)
        {
            double pivot = MedianOfThree(values[lo], values[lo + (hi - lo) / 2], values[hi]);
            int lt = lo, i = lo, gt = hi;
            while (i <= gt)
            {
                double x = values[i];
                if (x < pivot) { values[i] = values[lt]; values[lt] = x; lt++; i++; }
                else if (x > pivot) { values[i] = values[gt]; values[gt] = x; gt--; }
                else i++;
            }
            if (k < lt) hi = lt - 1;
            else if (k > gt) lo = gt + 1;
            else return pivot;
        }
        return values[k];
    }

    static double MedianOfThree(double a, double b, double c) =>
        Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));

    static double Min(ReadOnlySpan<double> values)
    {
        double m = values[0];
        foreach (var v in values) if (v < m) m = v;
        return m;
    }

    static double Max(ReadOnlySpan<double> values)
    {
        double m = values[0];
        foreach (var v in values) if (v > m) m = v;
        return m;
    }
}
