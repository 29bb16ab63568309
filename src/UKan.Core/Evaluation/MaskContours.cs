namespace UKan.Evaluation;

/// <summary>One closed outline of a mask: corner points on the pixel grid, and whether it bounds a hole.</summary>
/// <param name="Points">Vertices (x, y) in pixel-corner coordinates (pixel (x, y) spans x..x+1, y..y+1), without the
/// repeated first point; only corners where the outline turns.</param>
/// <param name="Hole">True for the outline of a hole inside a region (its points run counter-clockwise on screen).</param>
public sealed record Contour(IReadOnlyList<(int X, int Y)> Points, bool Hole);

/// <summary>
/// The outlines of a binary mask as polygons that follow the pixel edges exactly (crack following): every edge between
/// a foreground pixel and a background pixel (or the border) is walked once, regions clockwise on screen and holes
/// counter-clockwise, so the polygons fill back to exactly the mask. Diagonal neighbours count as connected (8-connected
/// regions, 4-connected holes).
/// </summary>
public static class MaskContours
{
    // Directions on the corner grid: 0 = +x, 1 = +y, 2 = −x, 3 = −y (screen coordinates, y down).
    static readonly int[] Dx = [1, 0, -1, 0], Dy = [0, 1, 0, -1];

    /// <param name="mask">0 = background, anything else foreground; row-major, top row first.</param>
    public static IReadOnlyList<Contour> Trace(ReadOnlySpan<byte> mask, int width, int height)
    {
        if (mask.Length != (long)width * height) throw new ArgumentException($"mask of {mask.Length} pixels for {width}x{height}");
        int stride = width + 1;
        // Bit d of out[v]: a boundary edge leaves corner v in direction d, with the foreground on its right.
        var outgoing = new byte[stride * (height + 1)];
        bool Fg(ReadOnlySpan<byte> m, int x, int y) => x >= 0 && y >= 0 && x < width && y < height && m[y * width + x] != 0;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                if (mask[y * width + x] == 0) continue;
                if (!Fg(mask, x, y - 1)) outgoing[y * stride + x] |= 1 << 0;             // top: (x,y) → (x+1,y)
                if (!Fg(mask, x + 1, y)) outgoing[y * stride + x + 1] |= 1 << 1;         // right: (x+1,y) → (x+1,y+1)
                if (!Fg(mask, x, y + 1)) outgoing[(y + 1) * stride + x + 1] |= 1 << 2;   // bottom: (x+1,y+1) → (x,y+1)
                if (!Fg(mask, x - 1, y)) outgoing[(y + 1) * stride + x] |= 1 << 3;       // left: (x,y+1) → (x,y)
            }
        var contours = new List<Contour>();
        for (int start = 0; start < outgoing.Length; start++)
        {
            while (outgoing[start] != 0)
            {
                int first = System.Numerics.BitOperations.TrailingZeroCount(outgoing[start]), d = first;
                int x = start % stride, y = start / stride;
                var points = new List<(int, int)>();
                long area2 = 0;
                while (true)
                {
                    // The first edge stays marked until the walk comes back to it: that is how the loop knows it closed.
                    int v = y * stride + x;
                    if (v != start || d != first) outgoing[v] &= (byte)~(1 << d);
                    int nx = x + Dx[d], ny = y + Dy[d];
                    area2 += (long)x * ny - (long)nx * y;
                    (x, y) = (nx, ny);
                    // Left turn first: at a corner shared by two diagonal foreground pixels the walk goes on around
                    // the other pixel, so diagonal neighbours form one region.
                    int w = y * stride + x, next = -1;
                    foreach (int turn in (ReadOnlySpan<int>)[3, 0, 1])
                        if ((outgoing[w] & (1 << ((d + turn) & 3))) != 0) { next = (d + turn) & 3; break; }
                    if (next != d) points.Add((x, y));
                    if (w == start && next == first) { outgoing[start] &= (byte)~(1 << first); break; }
                    d = next;
                }
                // In screen coordinates (y down) a clockwise walk has a positive shoelace sum.
                contours.Add(new Contour(points, Hole: area2 < 0));
            }
        }
        return contours;
    }
}
