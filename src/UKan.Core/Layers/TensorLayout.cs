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

    /// <summary><paramref name="t"/> itself when dense, else a contiguous copy.</summary>
    public static Tensor DenseLayout(Tensor t) => IsDense(t) ? t.alias() : t.contiguous();
}
