namespace UKan.Data;

/// <summary>
/// SplitMix64 (Steele, Lea &amp; Flood 2014): a tiny, fast, well-mixed generator whose whole state is one 64-bit
/// number, so every random choice of the data pipeline derives from (seed, epoch, index) and a resumed run draws
/// exactly what an uninterrupted one would have.
/// </summary>
public sealed class SplitMix64(ulong seed)
{
    ulong state = seed;

    public static SplitMix64 For(params long[] keys)
    {
        ulong s = 0x9E3779B97F4A7C15;
        foreach (var k in keys) s = Mix(s ^ (ulong)k);
        return new SplitMix64(s);
    }

    public ulong Next()
    {
        state += 0x9E3779B97F4A7C15;
        return Mix(state);
    }

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, n).</summary>
    public int NextInt(int n) => (int)(NextDouble() * n);

    /// <summary>Fisher–Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
