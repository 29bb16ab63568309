namespace UKan.Evaluation.Statistics;

/// <summary>How a <see cref="WilcoxonSignedRank"/> p-value was obtained.</summary>
public enum WilcoxonMethod
{
    /// <summary>The exact null distribution of the signed-rank sum (no zero and no tied differences, at most 50 pairs).</summary>
    Exact,
    /// <summary>The normal approximation with the tie correction of the variance.</summary>
    Normal,
}

/// <summary>
/// One two-sided Wilcoxon signed-rank test. <see cref="Statistic"/> is min(R⁺, R⁻) (SciPy's two-sided statistic),
/// <see cref="Pairs"/> the number of non-zero differences it was computed on, <see cref="Z"/> the normal score (NaN
/// for the exact method). All NaN when every difference is zero.
/// </summary>
public sealed record WilcoxonResult(double Statistic, double PValue, int Pairs, int Zeros, bool Ties, WilcoxonMethod Method, double Z);

/// <summary>
/// The Wilcoxon signed-rank test of paired differences (Wilcoxon 1945; Conover, Practical Nonparametric Statistics),
/// two-sided, with the settings of SciPy's <c>scipy.stats.wilcoxon</c> defaults (zero_method = "wilcox": zero
/// differences are dropped before ranking; correction = False; method = "auto"):
/// <list type="bullet">
/// <item>absolute differences are ranked with average ranks for ties; R⁺ and R⁻ are the rank sums of the positive and
/// negative differences; the statistic is min(R⁺, R⁻);</item>
/// <item>exact p-value when there are at most <see cref="ExactLimit"/> differences, none zero and none tied:
/// p = min(1, 2·min(P(T⁺ ≤ R⁺), P(T⁺ ≥ R⁺))) under the null distribution of T⁺ (every sign pattern equally likely),
/// counted by dynamic programming over the ranks 1..n;</item>
/// <item>otherwise the normal approximation: mean n(n+1)/4, variance n(n+1)(2n+1)/24 − Σ t(t²−1)/48 over groups of t
/// tied ranks, z = (T − mean − c)/sd with the continuity term c = ½·sign(T − mean) only when asked for, and
/// p = 2·Φ(−|z|).</item>
/// </list>
/// This is exactly what SciPy 1.10 computes where the two agree on the method: without zeros and ties at n ≤ 50
/// (exact), for n &gt; 50 (normal, zeros dropped, ties corrected) and with zeros at any n (SciPy 1.10 switches to
/// the normal approximation then, as here). Two departures, both rare in per-image scores at n ≤ 50: with tied but
/// no zero differences SciPy 1.10 still uses the exact distribution with the rank sum truncated to an integer,
/// which is not a valid p-value, and SciPy ≥ 1.15 uses a permutation test for ties or zeros at n ≤ 50; here the
/// normal approximation with the tie correction is used in both cases.
/// </summary>
public static class WilcoxonSignedRank
{
    /// <summary>Largest number of differences for the exact distribution (SciPy's "auto" limit).</summary>
    public const int ExactLimit = 50;

    /// <param name="normalOnly">Use the normal approximation even where the exact distribution applies (SciPy's method = "approx").</param>
    public static WilcoxonResult Test(ReadOnlySpan<double> differences, bool continuityCorrection = false, bool normalOnly = false)
    {
        foreach (var d in differences)
            if (double.IsNaN(d)) throw new ArgumentException("the differences hold NaN; drop the pairs that have no score first");
        var nonZero = new List<double>(differences.Length);
        foreach (var d in differences) if (d != 0) nonZero.Add(d);
        int n = nonZero.Count, zeros = differences.Length - n;
        if (n == 0) return new WilcoxonResult(double.NaN, double.NaN, 0, zeros, false, WilcoxonMethod.Normal, double.NaN);

        var (ranks, tieGroups) = AverageRanks(nonZero.Select(Math.Abs).ToArray());
        double plus = 0, minus = 0;
        for (int i = 0; i < n; i++)
            if (nonZero[i] > 0) plus += ranks[i]; else minus += ranks[i];
        double statistic = Math.Min(plus, minus);
        bool ties = tieGroups.Count > 0;

        if (!normalOnly && zeros == 0 && !ties && differences.Length <= ExactLimit)
            return new WilcoxonResult(statistic, ExactTwoSided(n, (int)plus), n, zeros, ties, WilcoxonMethod.Exact, double.NaN);

        double mean = n * (n + 1.0) / 4;
        double variance = n * (n + 1.0) * (2.0 * n + 1) / 24;
        foreach (int t in tieGroups) variance -= t * ((double)t * t - 1) / 48;
        double c = continuityCorrection ? 0.5 * Math.Sign(statistic - mean) : 0;
        double z = (statistic - mean - c) / Math.Sqrt(variance);
        double p = Math.Min(1, 2 * NormalDistribution.UpperTail(Math.Abs(z)));
        return new WilcoxonResult(statistic, p, n, zeros, ties, WilcoxonMethod.Normal, z);
    }

    /// <summary>
    /// Ranks 1..n of <paramref name="values"/> with ties given their average rank (SciPy's rankdata "average"), and
    /// the sizes of the groups of two or more equal values.
    /// </summary>
    public static (double[] Ranks, List<int> TieGroups) AverageRanks(IReadOnlyList<double> values)
    {
        int n = values.Count;
        var order = Enumerable.Range(0, n).OrderBy(i => values[i]).ToArray();
        var ranks = new double[n];
        var groups = new List<int>();
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && values[order[end]] == values[order[start]]) end++;
            double average = (start + 1 + end) / 2.0;   // mean of the ranks start+1 .. end
            for (int k = start; k < end; k++) ranks[order[k]] = average;
            if (end - start > 1) groups.Add(end - start);
            start = end;
        }
        return (ranks, groups);
    }

    /// <summary>
    /// Number of sign patterns of the ranks 1..n whose positive ranks sum to each value 0..n(n+1)/2: the null
    /// distribution of T⁺ times 2ⁿ. Exact in doubles for n ≤ 50 (the largest count is below 2⁵⁰).
    /// </summary>
    public static double[] NullCounts(int n)
    {
        int max = n * (n + 1) / 2;
        var counts = new double[max + 1];
        counts[0] = 1;
        for (int rank = 1, top = 0; rank <= n; rank++)
        {
            top += rank;
            for (int s = top; s >= rank; s--) counts[s] += counts[s - rank];
        }
        return counts;
    }

    /// <summary>Two-sided exact p-value of a positive-rank sum <paramref name="plus"/> among n ranks.</summary>
    static double ExactTwoSided(int n, int plus)
    {
        var counts = NullCounts(n);
        double total = Math.Pow(2, n), below = 0, above = 0;
        for (int s = 0; s <= plus; s++) below += counts[s];
        for (int s = plus; s < counts.Length; s++) above += counts[s];
        return Math.Min(1, 2 * Math.Min(below, above) / total);
    }
}
