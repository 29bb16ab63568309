namespace UKan.Evaluation.Statistics;

/// <summary>The standard normal distribution's tail, to double precision (.NET has no erfc).</summary>
public static class NormalDistribution
{
    /// <summary>P(Z &gt; z) = erfc(z/√2)/2.</summary>
    public static double UpperTail(double z) => Erfc(z / Math.Sqrt(2)) / 2;

    /// <summary>
    /// The complementary error function. For |x| &lt; 2 the series erf(x) = (2/√π)·e^(−x²)·Σ 2ⁿx^(2n+1)/(2n+1)!!
    /// (Abramowitz &amp; Stegun 7.1.6: all terms positive, so no cancellation); beyond, the continued fraction
    /// erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))) (A&amp;S 7.1.14), evaluated by the modified Lentz
    /// method, which keeps the small tail values to full relative precision.
    /// </summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return 2 - Erfc(-x);
        if (x < 2)
        {
            double term = x, sum = x, x2 = x * x;
            for (int k = 1; k < 200 && term > sum * 1e-17; k++)
            {
                term *= 2 * x2 / (2 * k + 1);
                sum += term;
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum;
        }
        if (x > 27) return 0;   // e^(−x²) underflows
        // Lentz: f = b0 + a1/(b1 + a2/(b2 + …)) with b = x, a_k = k/2.
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int k = 1; k < 500; k++)
        {
            double a = k / 2.0;
            d = x + a * d;
            d = Math.Abs(d) < tiny ? tiny : d;
            c = x + a / c;
            c = Math.Abs(c) < tiny ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }
}
