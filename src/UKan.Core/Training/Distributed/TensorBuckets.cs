using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// Packs many tensors into a few flat buffers (buckets of at most <see cref="CapBytes"/>, in order, as
/// DistributedDataParallel's bucket_cap_mb) so that a collective runs once per bucket instead of once per tensor,
/// and unpacks the result in place. Used for the start-up broadcast of the weights and for the batch norm running
/// statistics; the gradients need no packing, FlatAdam keeps them in flat buffers already.
/// </summary>
public sealed class TensorBuckets
{
    /// <summary>25 MiB, torch DDP's default bucket size.</summary>
    public const long DefaultCapBytes = 25L << 20;

    readonly IReadOnlyList<Tensor> tensors;
    /// <summary>The tensor indices of each bucket.</summary>
    public IReadOnlyList<int[]> Buckets { get; }
    public long CapBytes { get; }

    /// <param name="tensors">float32 tensors, all on one device (a bucket takes whole tensors; one larger than the cap is a bucket of its own).</param>
    public TensorBuckets(IReadOnlyList<Tensor> tensors, long capBytes = DefaultCapBytes)
    {
        (this.tensors, CapBytes) = (tensors, capBytes);
        var buckets = new List<int[]>();
        var current = new List<int>();
        long bytes = 0;
        for (int i = 0; i < tensors.Count; i++)
        {
            if (tensors[i].dtype != ScalarType.Float32) throw new ArgumentException($"tensor {i} is {tensors[i].dtype}; buckets hold float32");
            long size = tensors[i].numel() * 4;
            if (current.Count > 0 && bytes + size > capBytes) { buckets.Add([.. current]); current.Clear(); bytes = 0; }
            current.Add(i);
            bytes += size;
        }
        if (current.Count > 0) buckets.Add([.. current]);
        Buckets = buckets;
    }

    /// <summary>Bucket <paramref name="b"/>'s tensors concatenated into one new flat buffer.</summary>
    public Tensor Pack(int b)
    {
        using var _ = no_grad();
        return cat(Buckets[b].Select(i => tensors[i].detach().reshape(-1)).ToList());
    }

    /// <summary>Copies <paramref name="flat"/> (made by <see cref="Pack"/>, then changed) back into bucket <paramref name="b"/>'s tensors.</summary>
    public void Unpack(int b, Tensor flat)
    {
        using var _ = no_grad();
        long offset = 0;
        foreach (var i in Buckets[b])
        {
            var t = tensors[i];
            long n = t.numel();
            t.copy_(flat.narrow(0, offset, n).view(t.shape));
            offset += n;
        }
    }

    /// <summary>Runs <paramref name="collective"/> on every bucket: pack, collective, unpack.</summary>
    public void Apply(Action<Tensor> collective)
    {
        for (int b = 0; b < Buckets.Count; b++)
        {
            using var flat = Pack(b);
            collective(flat);
            Unpack(b, flat);
        }
    }
}
