using UKan.Evaluation;
using UKan.Evaluation.Statistics;

namespace UKan.Tests.Evaluation.Statistics;

/// <summary>
/// Known answers for the paired statistics. SciPy values were produced with Debian 12's python3-scipy (SciPy 1.10.1)
/// by <c>scipy.stats.wilcoxon(d)</c> (defaults: zero_method="wilcox", correction=False, method="auto"), with
/// <c>correction=True</c> or <c>method="approx"</c> where the test says so, and <c>scipy.special.erfc(x)</c>;
/// printed with repr() and pasted here.
/// </summary>
public class StatisticsTests
{
    // Fisher's paired differences of Darwin's Zea mays data, SciPy's own wilcoxon example (n = 15, no ties, no zeros).
    static readonly double[] Fisher = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75];

    // round(sin(1.7·i)·5 + 1)/10 for i = 1..60: n > 50, zeros and many ties.
    static readonly double[] Skewed =
    [
        0.6, 0.0, -0.4, 0.3, 0.5, -0.2, -0.2, 0.5, 0.3, -0.4, 0.0, 0.6, 0.0, -0.4, 0.3, 0.5, -0.2, -0.3, 0.5, 0.4, -0.4, 0.0, 0.6, 0.1,
        -0.4, 0.2, 0.6, -0.1, -0.3, 0.4, 0.4, -0.3, -0.1, 0.6, 0.2, -0.4, 0.1, 0.6, -0.1, -0.3, 0.4, 0.5, -0.3, -0.2, 0.5, 0.3, -0.4, 0.1,
        0.6, 0.0, -0.4, 0.3, 0.5, -0.2, -0.2, 0.5, 0.3, -0.4, 0.0, 0.6,
    ];

    [Fact]
    public void Wilcoxon_by_hand_four_pairs()
    {
        // |d| ranks 1,2,3,4; R+ = 1+2+4 = 7, R- = 3, T = 3. Of the 16 sign patterns, 5 have a positive-rank sum ≤ 3
        // ({}, {1}, {2}, {3}, {1,2}), so p = 2·5/16 = 0.625 (SciPy: 3.0, 0.625).
        var r = WilcoxonSignedRank.Test([1, 2, -3, 4]);
        Assert.Equal(3.0, r.Statistic);
        Assert.Equal(0.625, r.PValue);
        Assert.Equal(WilcoxonMethod.Exact, r.Method);
    }

    [Fact]
    public void Wilcoxon_exact_matches_SciPy()
    {
        var r = WilcoxonSignedRank.Test(Fisher);
        Assert.Equal(24.0, r.Statistic);
        Assert.Equal(WilcoxonMethod.Exact, r.Method);
        Assert.Equal(0.041259765625, r.PValue, 1e-15);   // SciPy: 24.0, 0.041259765625 (= 1352/32768)
    }

    [Fact]
    public void Wilcoxon_normal_approximation_matches_SciPy()
    {
        var approx = WilcoxonSignedRank.Test(Fisher, normalOnly: true);
        Assert.Equal(WilcoxonMethod.Normal, approx.Method);
        Assert.Equal(0.04088813291185591, approx.PValue, 1e-13);   // SciPy method="approx": 24.0, 0.04088813291185591

        // Zeros below n = 50: dropped, then the normal approximation with the tie correction (SciPy 1.10).
        var zeros = WilcoxonSignedRank.Test([0.5, -0.2, 0.0, 0.3, 0.3, -0.1, 0.7, 0.0, 0.4, 0.9, -0.6, 0.2]);
        Assert.Equal(11.5, zeros.Statistic);
        Assert.Equal(2, zeros.Zeros);
        Assert.Equal(10, zeros.Pairs);
        Assert.Equal(0.10247043485974937, zeros.PValue, 1e-13);   // SciPy: 11.5, 0.10247043485974937

        var skewed = WilcoxonSignedRank.Test(Skewed);
        Assert.Equal(461.5, skewed.Statistic);
        Assert.True(skewed.Ties);
        Assert.Equal(0.01512820919483232, skewed.PValue, 1e-13);   // SciPy: 461.5, 0.01512820919483232
        var corrected = WilcoxonSignedRank.Test(Skewed, continuityCorrection: true);
        Assert.Equal(0.015309541781835287, corrected.PValue, 1e-13);   // SciPy correction=True: 461.5, 0.015309541781835287
    }

    [Fact]
    public void Wilcoxon_exact_distribution_equals_brute_force_enumeration()
    {
        for (int n = 1; n <= 12; n++)
        {
            var counts = WilcoxonSignedRank.NullCounts(n);
            var brute = new double[counts.Length];
            for (int mask = 0; mask < 1 << n; mask++)
            {
                int sum = 0;
                for (int r = 1; r <= n; r++) if ((mask >> (r - 1) & 1) == 1) sum += r;
                brute[sum]++;
            }
            Assert.Equal(brute, counts);
        }
        // Symmetric and summing to 2^n even where the counts are large.
        var c50 = WilcoxonSignedRank.NullCounts(50);
        Assert.Equal(Math.Pow(2, 50), c50.Sum());
        for (int s = 0; s < c50.Length; s++) Assert.Equal(c50[s], c50[^(s + 1)]);
    }

    [Fact]
    public void Wilcoxon_of_only_zeros_is_undefined_and_the_sign_does_not_matter()
    {
        var r = WilcoxonSignedRank.Test([0.0, 0.0, 0.0]);
        Assert.True(double.IsNaN(r.PValue));
        var mirrored = WilcoxonSignedRank.Test(Fisher.Select(d => -d).ToArray());
        Assert.Equal(WilcoxonSignedRank.Test(Fisher).PValue, mirrored.PValue);
    }

    [Fact]
    public void Average_ranks_as_rankdata()
    {
        var (ranks, groups) = WilcoxonSignedRank.AverageRanks([0.3, 0.1, 0.3, 0.2, 0.3]);
        Assert.Equal([4.0, 1.0, 4.0, 2.0, 4.0], ranks);   // scipy.stats.rankdata: [4. 1. 4. 2. 4.]
        Assert.Equal([3], groups);
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.1, 0.8875370839817152)]
    [InlineData(0.5, 0.4795001221869535)]
    [InlineData(1.0, 0.15729920705028516)]
    [InlineData(2.0, 0.004677734981047266)]
    [InlineData(2.9, 4.109787809945884e-05)]
    [InlineData(3.0, 2.2090496998585445e-05)]
    [InlineData(3.5, 7.430983723414129e-07)]
    [InlineData(5.0, 1.5374597944280347e-12)]
    [InlineData(10.0, 2.0884875837625446e-45)]
    [InlineData(-1.5, 1.9661051464753108)]
    public void Erfc_matches_SciPy(double x, double expected) =>
        Assert.True(Math.Abs(NormalDistribution.Erfc(x) - expected) <= 1e-12 * expected, $"erfc({x}) = {NormalDistribution.Erfc(x):R}, SciPy {expected:R}");

    [Fact]
    public void Bootstrap_interval_is_reproducible_and_near_the_normal_theory_interval()
    {
        var rng = new Random(7);
        var d = Enumerable.Range(0, 200).Select(_ => rng.NextDouble() - 0.3).ToArray();
        var a = BootstrapInterval.OfMean(d);
        var b = BootstrapInterval.OfMean(d);
        Assert.Equal(a, b);
        Assert.NotEqual(a, BootstrapInterval.OfMean(d, seed: 2));
        var s = MetricStatistics.Of(d);
        Assert.InRange(s.Mean, a.Low, a.High);
        // Normal theory: mean ± 1.96·sd/√n (sd with n − 1); the percentile interval agrees to Monte-Carlo error.
        double half = 1.959964 * s.Std * Math.Sqrt(d.Length / (d.Length - 1.0)) / Math.Sqrt(d.Length);
        Assert.Equal(s.Mean - half, a.Low, 0.003);
        Assert.Equal(s.Mean + half, a.High, 0.003);
        Assert.Equal(new ConfidenceInterval(0.25, 0.25, 0.95, 10_000), BootstrapInterval.OfMean([0.25, 0.25, 0.25]));
    }

    [Fact]
    public void Paired_comparison_counts_wins_by_the_metric_direction_and_skips_missing_scores()
    {
        double[] reference = [0.5, 0.6, 0.7, 0.8, double.NaN];
        double[] model = [0.6, 0.6, 0.5, 0.9, 0.4];
        var iou = PairedComparison.Of("iou", Better.Higher, reference, model, resamples: 1000);
        Assert.Equal(4, iou.Images);
        Assert.Equal((2, 1, 1), (iou.Wins, iou.Ties, iou.Losses));
        Assert.Equal((0.1 + 0 - 0.2 + 0.1) / 4, iou.Difference.Mean, 1e-12);
        var hd = PairedComparison.Of("hd95", Better.Lower, reference, model, resamples: 1000);
        Assert.Equal((1, 1, 2), (hd.Wins, hd.Ties, hd.Losses));
    }
}
