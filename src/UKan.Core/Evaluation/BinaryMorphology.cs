namespace UKan.Evaluation;

/// <summary>Binary morphology on N-D grids, as far as surface distances need it.</summary>
public static class BinaryMorphology
{
    /// <summary>
    /// The surface of a mask as medpy defines it: mask XOR erosion(mask), the erosion using the cross structuring
    /// element (connectivity 1: the point and its 2·rank axis neighbours) with border value 0, so a foreground point
    /// is interior only if all 2·rank neighbours exist inside the grid and are foreground. Consequence: along an axis
    /// of length 1 nothing is interior, and the surface is the whole foreground (the 4-D (B,1,H,W) case).
    /// Writes the surface to <paramref name="surface"/> and returns its number of points.
    /// </summary>
    public static int Surface(ReadOnlySpan<bool> mask, ReadOnlySpan<int> shape, Span<bool> surface)
    {
        int volume = GridLines.Volume(shape);
        if (mask.Length != volume || surface.Length != volume)
            throw new ArgumentException($"mask ({mask.Length}) and surface ({surface.Length}) must have {volume} elements");
        // surface holds "interior" while the axes are processed, then is turned into mask ∧ ¬interior.
        mask.CopyTo(surface);
        foreach (var n in shape)
            if (n < 3) return surface.Count(true); // no point has both neighbours along this axis: nothing is interior
        for (int axis = 0; axis < shape.Length; axis++)
        {
            var lines = GridLines.Along(shape, axis);
            int n = lines.Length, stride = lines.Stride;
            for (int line = 0; line < lines.Count; line++)
            {
                int start = lines.Start(line), last = start + (n - 1) * stride;
                surface[start] = false;
                surface[last] = false;
                for (int i = start + stride; i < last; i += stride)
                    if (surface[i] && !(mask[i - stride] && mask[i + stride])) surface[i] = false;
            }
        }
        int count = 0;
        for (int i = 0; i < volume; i++)
        {
            bool s = mask[i] && !surface[i];
            surface[i] = s;
            if (s) count++;
        }
        return count;
    }
}
