using System.Buffers;

namespace UKan.Evaluation;

/// <summary>
/// Surface-distance Hausdorff metrics on N-D binary grids, with medpy's definitions (loli/medpy
/// <c>medpy.metric.binary.hd95</c>, connectivity 1), implemented here from that description:
/// surface(X) = X XOR erosion(X) (<see cref="BinaryMorphology.Surface"/>); the directed distances of A to B are, for
/// every surface point of A, the Euclidean distance (with spacing) to the nearest surface point of B
/// (<see cref="DistanceTransform"/>); HD95 is the 95th percentile (numpy linear) of the UNION of both directed
/// sets — not the larger of the two directed 95th percentiles (github.com/loli/medpy, #138).
/// </summary>
public static class Hausdorff
{
    /// <summary>
    /// HD95 between masks <paramref name="a"/> and <paramref name="b"/> on a grid of <paramref name="shape"/> with
    /// <paramref name="spacing"/> per axis; null when either mask is empty (medpy raises there). Symmetric in a, b.
    /// The grid is first cut to the bounding box of a ∪ b, which changes nothing (erosion has border value 0 and every
    /// surface point lies in the box) but makes small objects cheap.
    /// </summary>
    public static double? Hd95(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b, ReadOnlySpan<int> shape, ReadOnlySpan<double> spacing)
    {
        int volume = GridLines.Volume(shape);
        if (a.Length != volume || b.Length != volume)
            throw new ArgumentException($"masks have {a.Length} and {b.Length} elements, shape needs {volume}");
        if (spacing.Length != shape.Length) throw new ArgumentException($"spacing has {spacing.Length} values for {shape.Length} axes");
        if (!a.Contains(true) || !b.Contains(true)) return null;

        Span<int> low = stackalloc int[shape.Length], extent = stackalloc int[shape.Length];
        BoundingBox(a, b, shape, low, extent);
        int boxVolume = GridLines.Volume(extent);
        bool[] boxA = ArrayPool<bool>.Shared.Rent(boxVolume), boxB = ArrayPool<bool>.Shared.Rent(boxVolume);
        bool[] surfA = ArrayPool<bool>.Shared.Rent(boxVolume), surfB = ArrayPool<bool>.Shared.Rent(boxVolume);
        double[] field = ArrayPool<double>.Shared.Rent(boxVolume);
        try
        {
            Crop(a, shape, low, extent, boxA);
            Crop(b, shape, low, extent, boxB);
            int countA = BinaryMorphology.Surface(boxA.AsSpan(0, boxVolume), extent, surfA.AsSpan(0, boxVolume));
            int countB = BinaryMorphology.Surface(boxB.AsSpan(0, boxVolume), extent, surfB.AsSpan(0, boxVolume));
            var distances = new double[countA + countB];
            DirectedDistances(surfA, surfB, boxVolume, extent, spacing, field, distances.AsSpan(0, countA));
            DirectedDistances(surfB, surfA, boxVolume, extent, spacing, field, distances.AsSpan(countA));
            return Percentile.Linear(distances, 0.95);
        }
        finally
        {
            ArrayPool<bool>.Shared.Return(boxA);
            ArrayPool<bool>.Shared.Return(boxB);
            ArrayPool<bool>.Shared.Return(surfA);
            ArrayPool<bool>.Shared.Return(surfB);
            ArrayPool<double>.Shared.Return(field);
        }
    }

    /// <summary>For each point of <paramref name="from"/> (in grid order): distance to the nearest point of <paramref name="to"/>.</summary>
    static void DirectedDistances(bool[] from, bool[] to, int volume, ReadOnlySpan<int> shape, ReadOnlySpan<double> spacing,
        double[] field, Span<double> distances)
    {
        DistanceTransform.SquaredToNearest(to.AsSpan(0, volume), shape, spacing, field);
        int k = 0;
        for (int i = 0; i < volume; i++)
            if (from[i]) distances[k++] = Math.Sqrt(field[i]);
    }

    /// <summary>Smallest box (per-axis <paramref name="low"/> corner and <paramref name="extent"/>) holding all of a ∪ b; both non-empty.</summary>
    static void BoundingBox(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b, ReadOnlySpan<int> shape, Span<int> low, Span<int> extent)
    {
        int rank = shape.Length, width = shape[rank - 1];
        Span<int> high = stackalloc int[rank], index = stackalloc int[rank];
        low.Fill(int.MaxValue);
        high.Fill(-1);
        index.Clear();
        for (int start = 0; start < a.Length; start += width)
        {
            // index[..rank-1] is the grid index of this row
            int first = FirstSet(a.Slice(start, width), b.Slice(start, width));
            if (first >= 0)
            {
                int last = LastSet(a.Slice(start, width), b.Slice(start, width));
                for (int d = 0; d < rank - 1; d++)
                {
                    low[d] = Math.Min(low[d], index[d]);
                    high[d] = Math.Max(high[d], index[d]);
                }
                low[rank - 1] = Math.Min(low[rank - 1], first);
                high[rank - 1] = Math.Max(high[rank - 1], last);
            }
            for (int d = rank - 2; d >= 0 && ++index[d] == shape[d]; d--) index[d] = 0;
        }
        for (int d = 0; d < rank; d++) extent[d] = high[d] - low[d] + 1;
    }

    static int FirstSet(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b)
    {
        int i = a.IndexOf(true), j = b.IndexOf(true);
        return i < 0 ? j : j < 0 ? i : Math.Min(i, j);
    }

    static int LastSet(ReadOnlySpan<bool> a, ReadOnlySpan<bool> b) => Math.Max(a.LastIndexOf(true), b.LastIndexOf(true));

    /// <summary>Copies the box (<paramref name="low"/>, <paramref name="extent"/>) of <paramref name="source"/> into <paramref name="box"/>, row by row.</summary>
    static void Crop(ReadOnlySpan<bool> source, ReadOnlySpan<int> shape, ReadOnlySpan<int> low, ReadOnlySpan<int> extent, Span<bool> box)
    {
        int rank = shape.Length, rowLength = extent[rank - 1];
        Span<int> index = stackalloc int[rank]; // index within the box; the last axis is copied whole
        index.Clear();
        int volume = GridLines.Volume(extent);
        for (int target = 0; target < volume; target += rowLength)
        {
            int offset = 0;
            for (int d = 0; d < rank; d++) offset = offset * shape[d] + low[d] + index[d];
            source.Slice(offset, rowLength).CopyTo(box.Slice(target, rowLength));
            for (int d = rank - 2; d >= 0 && ++index[d] == extent[d]; d--) index[d] = 0;
        }
    }
}
