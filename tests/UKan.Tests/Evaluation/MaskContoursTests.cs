using UKan.Evaluation;

namespace UKan.Tests.Evaluation;

/// <summary>The outlines give back the mask: filled with the even-odd rule at pixel centres they cover exactly its pixels.</summary>
public class MaskContoursTests
{
    /// <summary>Even-odd fill of all outlines, sampled at pixel centres.</summary>
    static byte[] Fill(IReadOnlyList<Contour> contours, int width, int height)
    {
        var inside = new byte[width * height];
        for (int y = 0; y < height; y++)
        {
            double cy = y + 0.5;
            for (int x = 0; x < width; x++)
            {
                double cx = x + 0.5;
                int crossings = 0;
                foreach (var c in contours)
                    for (int i = 0; i < c.Points.Count; i++)
                    {
                        var (ax, ay) = c.Points[i];
                        var (bx, by) = c.Points[(i + 1) % c.Points.Count];
                        // Only vertical edges cross a horizontal ray; the outline alternates horizontal and vertical runs.
                        if (ax == bx && ax > cx && Math.Min(ay, by) < cy && cy < Math.Max(ay, by)) crossings++;
                    }
                inside[y * width + x] = (byte)(crossings % 2);
            }
        }
        return inside;
    }

    [Fact]
    public void A_square_is_four_corners_clockwise()
    {
        var mask = new byte[5 * 4];
        for (int y = 1; y <= 2; y++) for (int x = 1; x <= 3; x++) mask[y * 5 + x] = 1;
        var c = Assert.Single(MaskContours.Trace(mask, 5, 4));
        Assert.False(c.Hole);
        Assert.Equal(4, c.Points.Count);
        Assert.Equal(new HashSet<(int, int)> { (1, 1), (4, 1), (4, 3), (1, 3) }, c.Points.ToHashSet());
    }

    [Fact]
    public void A_ring_has_an_outline_and_a_hole()
    {
        var mask = new byte[5 * 5];
        for (int y = 0; y < 5; y++) for (int x = 0; x < 5; x++) mask[y * 5 + x] = (byte)(x is >= 1 and <= 3 && y is >= 1 and <= 3 && !(x == 2 && y == 2) ? 1 : 0);
        var contours = MaskContours.Trace(mask, 5, 5);
        Assert.Equal(2, contours.Count);
        Assert.Single(contours, c => c.Hole);
        Assert.Equal(mask, Fill(contours, 5, 5));
    }

    [Fact]
    public void Diagonal_neighbours_are_one_region()
    {
        byte[] mask = [1, 0, 0, 1];
        var c = Assert.Single(MaskContours.Trace(mask, 2, 2));
        Assert.False(c.Hole);
        Assert.Equal(mask, Fill([c], 2, 2));
    }

    [Theory]
    [InlineData(1, 0.5)]
    [InlineData(2, 0.3)]
    [InlineData(3, 0.7)]
    public void Random_masks_fill_back_exactly(int seed, double density)
    {
        var rng = new Random(seed);
        const int w = 23, h = 17;
        var mask = Enumerable.Range(0, w * h).Select(_ => (byte)(rng.NextDouble() < density ? 1 : 0)).ToArray();
        var contours = MaskContours.Trace(mask, w, h);
        Assert.Equal(mask, Fill(contours, w, h));
        // Every boundary edge is used once: the outlines' perimeters add up to the mask's.
        int perimeter = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                if (mask[y * w + x] == 0) continue;
                bool Bg(int xx, int yy) => xx < 0 || yy < 0 || xx >= w || yy >= h || mask[yy * w + xx] == 0;
                perimeter += (Bg(x - 1, y) ? 1 : 0) + (Bg(x + 1, y) ? 1 : 0) + (Bg(x, y - 1) ? 1 : 0) + (Bg(x, y + 1) ? 1 : 0);
            }
        int traced = contours.Sum(c => c.Points.Select((p, i) => Math.Abs(p.X - c.Points[(i + 1) % c.Points.Count].X) + Math.Abs(p.Y - c.Points[(i + 1) % c.Points.Count].Y)).Sum());
        Assert.Equal(perimeter, traced);
    }

    [Fact]
    public void An_empty_mask_has_no_outline() => Assert.Empty(MaskContours.Trace(new byte[12], 4, 3));
}
