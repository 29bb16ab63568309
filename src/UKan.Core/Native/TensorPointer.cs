using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>The device address of a tensor's first element, for native calls (CUDA kernels, NCCL).</summary>
public static class TensorPointer
{
    /// <summary>Of a float32 tensor; zero for null.</summary>
    public static IntPtr Of(Tensor? t) => Address<float>(t);

    /// <summary>Of an int64 tensor (a counter such as a batch norm's num_batches_tracked); zero for null.</summary>
    public static IntPtr OfInt64(Tensor? t) => Address<long>(t);

    /// <summary>The storage's address plus the tensor's offset in elements of <typeparamref name="T"/> (its dtype).</summary>
    static unsafe IntPtr Address<T>(Tensor? t) where T : unmanaged
    {
        if (t is null) return IntPtr.Zero;
        using var storage = t.storage<T>();
        return storage.data_ptr() + (nint)(t.storage_offset() * sizeof(T));
    }
}
