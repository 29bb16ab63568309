using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>Memory-layout tests for element-wise kernels that walk a tensor's storage in memory order.</summary>
public static class TensorLayout
{
    /// <summary>
    /// True when the elements of <paramref name="t"/> fill its storage span exactly once in some order (contiguous,
    /// channels-last, any permutation of a contiguous tensor): an element-wise kernel can then run over memory order.
    /// </summary>
    public static bool IsDense(Tensor t)
    {
        var dims = t.shape.Zip(t.stride()).Where(d => d.First != 1).OrderBy(d => d.Second).ToArray();
        long expected = 1;
        foreach (var (size, stride) in dims)
        {
            if (stride != expected) return false;
            expected *= size;
        }
        return true;
    }

    /// <summary>
    /// True when the 4-D <paramref name="t"/> (N, C, H, W) is laid out as a dense NHWC array: element (n, c, h, w) at
    /// ((n·H + h)·W + w)·C + c, so that it is a row-major (N·H·W, C) matrix. Strides of size-1 dimensions do not matter.
    /// </summary>
    public static bool IsChannelsLastDense(Tensor t)
    {
        if (t.dim() != 4) return false;
        var (shape, stride) = (t.shape, t.stride());
        long c = shape[1], w = shape[3], h = shape[2];
        long[] expected = [h * w * c, 1, w * c, c];
        for (int d = 0; d < 4; d++)
            if (shape[d] != 1 && stride[d] != expected[d]) return false;
        return true;
    }

    /// <summary>
    /// <paramref name="t"/> itself when its strides are <paramref name="strides"/>, else a copy laid out with them (in
    /// <paramref name="dtype"/>, default t's): an incoming gradient brought to the layout a kernel indexes it in.
    /// </summary>
    public static Tensor WithStrides(Tensor t, long[] strides, ScalarType? dtype = null) =>
        t.stride().SequenceEqual(strides) ? t : empty_strided(t.shape, strides, dtype: dtype ?? t.dtype, device: t.device).copy_(t);

    /// <summary>Dense strides of an (N, C, H, W) tensor in NCHW or, with <paramref name="channelsLast"/>, NHWC memory order.</summary>
    public static long[] DenseStrides(long c, long h, long w, bool channelsLast) =>
        channelsLast ? [h * w * c, 1, w * c, c] : [c * h * w, h * w, w, 1];

    /// <summary><paramref name="t"/> itself when dense, else a contiguous copy.</summary>
    public static Tensor DenseLayout(Tensor t) => IsDense(t) ? t.alias() : t.contiguous();

    /// <summary>
    /// For an (N, C, H, W) tensor: false when dense NCHW (contiguous), true when dense channels-last
    /// (<see cref="IsChannelsLastDense"/>), null otherwise; what kernels that index either layout directly take. Where
    /// both hold (one channel, or 1 × 1 images) the two layouts are the same memory order, and false is returned.
    /// </summary>
    public static bool? DenseChannelsLast(Tensor x) =>
        x.dim() != 4 ? null : x.is_contiguous() ? false : IsChannelsLastDense(x) ? true : null;

    /// <summary>
    /// Whether <paramref name="b"/> holds its elements in the order and the span <paramref name="a"/> does: one dtype,
    /// device and shape, and equal strides in every dimension longer than 1 (a size-1 dimension's stride never moves an
    /// address). With <paramref name="a"/> dense, both are then one run of numel elements from their storage offsets.
    /// </summary>
    public static bool SameMemoryOrder(Tensor a, Tensor b)
    {
        if (a.dtype != b.dtype || a.device_type != b.device_type || a.device_index != b.device_index || !a.shape.SequenceEqual(b.shape))
            return false;
        long[] sa = a.stride(), sb = b.stride();
        for (int d = 0; d < sa.Length; d++)
            if (a.shape[d] > 1 && sa[d] != sb[d]) return false;
        return true;
    }
}
