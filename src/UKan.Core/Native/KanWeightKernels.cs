using System.Runtime.InteropServices;
using UKan.Layers;
using static TorchSharp.torch;
using static UKan.Native.CudaKernelModule;

namespace UKan.Native;

/// <summary>
/// KANLinear's fused weight and its backward (Native/Kernels/kan_weight.cu) for up to <see cref="KanWeight.MaxLayers"/>
/// layers, one launch each way; the math is that of <see cref="KanWeight.Torch"/>, which <c>ukan selftest --device
/// cuda</c> compares them with.
/// </summary>
public sealed class KanWeightKernels : IKanWeightKernels
{
    /// <summary>The kernels of this family in the CUDA source.</summary>
    public static readonly string[] Functions = ["kan_weight_assemble", "kan_weight_assemble_backward"];

    readonly CudaKernelModule module;
    readonly IntPtr assemble, backward;

    public KanWeightKernels(CudaKernelModule module) =>
        (this.module, assemble, backward) = (module, module.Function("kan_weight_assemble"), module.Function("kan_weight_assemble_backward"));

    public Tensor[] KanWeightForward(IReadOnlyList<KanWeightParts> layers)
    {
        Check(layers);
        var weights = layers.Select(p => empty(p.BaseWeight.shape[0], p.BaseWeight.shape[1] * (p.SplineWeight.shape[2] + 1),
            dtype: float32, device: p.SplineWeight.device)).ToArray();
        var table = new KanWeightTable { Count = layers.Count };
        for (int l = 0; l < layers.Count; l++)
        {
            var p = layers[l];
            table.Set(l, p, weights[l], default, weights[l].numel());
        }
        Launch(assemble, table);
        return weights;
    }

    public KanWeightGradients[] KanWeightBackward(IReadOnlyList<Tensor?> grads, IReadOnlyList<KanWeightParts> layers, IReadOnlyList<KanWeightNeeds> needs,
        IReadOnlyList<KanWeightGradients>? into = null)
    {
        Check(layers);
        var result = new KanWeightGradients[layers.Count];
        var table = new KanWeightTable { Count = layers.Count };
        for (int l = 0; l < layers.Count; l++)
        {
            var p = layers[l];
            long o = p.SplineWeight.shape[0], i = p.SplineWeight.shape[1], k = p.SplineWeight.shape[2];
            if (grads[l] is not { } g) { table.Set(l, p, null, default, 0); continue; }
            if (g.dtype != ScalarType.Float32 || !g.is_contiguous() || g.numel() != o * i * (k + 1))
                throw new ArgumentException("KAN weight kernels: each gradient must be a contiguous float32 (out, in·(1+K)) tensor");
            var given = into?[l] ?? default;
            Tensor? Make(bool need, Tensor? destination, params long[] shape) =>
                !need ? null : destination is null ? empty(shape, dtype: float32, device: g.device) : Destination(destination, shape);
            result[l] = new(Make(needs[l].Base, given.Base, o, i), Make(needs[l].Spline, given.Spline, o, i, k),
                Make(needs[l].Scaler && p.Scaler is not null, given.Scaler, o, i));
            table.Set(l, p, g, result[l], o * i);
        }
        Launch(backward, table);
        return result;
    }

    void Launch(IntPtr function, KanWeightTable table)
    {
        long total = table.Total();
        if (total > 0) module.Launch(function, total, table.Bytes());
    }

    static Tensor Destination(Tensor t, long[] shape) =>
        t.dtype == ScalarType.Float32 && t.is_contiguous() && t.shape.SequenceEqual(shape) ? t
            : throw new ArgumentException("KAN weight kernels: a gradient's destination must be a contiguous float32 tensor of the parameter's shape");

    static void Check(IReadOnlyList<KanWeightParts> layers)
    {
        if (layers.Count is 0 or > KanWeight.MaxLayers || layers.Any(p => !KanWeight.Takes(p.BaseWeight, p.SplineWeight, p.Scaler)))
            throw new ArgumentException($"KAN weight kernels: 1 to {KanWeight.MaxLayers} layers of float32 contiguous W_b (out, in), W_s (out, in, K) and s (out, in) on one device");
    }

    /// <summary>kan_weight.cu's KanWeightTable, field for field (passed by value as the kernels' one parameter).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct KanWeightTable
    {
        const int Layers = KanWeight.MaxLayers;
        fixed long baseWeight[Layers];
        fixed long spline[Layers];
        fixed long scaler[Layers];
        fixed long w[Layers];
        fixed long gradBase[Layers];
        fixed long gradSpline[Layers];
        fixed long gradScaler[Layers];
        fixed long first[Layers + 1];
        fixed int k[Layers];
        public int Count;

        /// <summary>The fields in kan_weight.cu's order (the emulation tests compare their offsets with the CUDA struct's).</summary>
        internal static readonly string[] Fields = [nameof(baseWeight), nameof(spline), nameof(scaler), nameof(w), nameof(gradBase),
            nameof(gradSpline), nameof(gradScaler), nameof(first), nameof(k), nameof(Count)];

        /// <summary>Layer <paramref name="l"/>'s pointers and its <paramref name="threads"/> (set in order: the prefix sums follow).</summary>
        public void Set(int l, KanWeightParts p, Tensor? w, KanWeightGradients grads, long threads)
        {
            baseWeight[l] = (long)Pointer(p.BaseWeight);
            spline[l] = (long)Pointer(p.SplineWeight);
            scaler[l] = (long)Pointer(p.Scaler);
            this.w[l] = (long)Pointer(w);
            gradBase[l] = (long)Pointer(grads.Base);
            gradSpline[l] = (long)Pointer(grads.Spline);
            gradScaler[l] = (long)Pointer(grads.Scaler);
            k[l] = (int)p.SplineWeight.shape[2];
            first[l + 1] = first[l] + threads;
        }

        public readonly long Total() => first[Count];

        public readonly byte[] Bytes() => MemoryMarshal.AsBytes(new ReadOnlySpan<KanWeightTable>(in this)).ToArray();
    }
}
