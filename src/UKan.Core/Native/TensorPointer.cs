using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>The device address of a float32 tensor's first element, for native calls (CUDA kernels, NCCL).</summary>
public static class TensorPointer
{
    public static IntPtr Of(Tensor? t)
    {
        if (t is null) return IntPtr.Zero;
        using var storage = t.storage<float>();
        return storage.data_ptr() + (nint)(t.storage_offset() * sizeof(float));
    }
}
