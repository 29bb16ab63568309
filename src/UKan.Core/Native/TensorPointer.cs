using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace UKan.Native;

/// <summary>The device address of a tensor's first element, for native calls (CUDA kernels, NCCL).</summary>
/// <remarks>
/// Read from LibTorchSharp's own entry for the storage's address, not through <c>Tensor.storage&lt;T&gt;()</c>: that
/// one converts a tensor of any other dtype than T into a temporary copy (a bfloat16 map became a float32 copy whose
/// address the kernels were given, gone when the call returned) and leaves a tensor handle to the finalizer each call.
/// </remarks>
public static class TensorPointer
{
    [DllImport("LibTorchSharp")] static extern IntPtr THSStorage_data_ptr(IntPtr tensor);

    /// <summary>Of a tensor of any dtype: its storage's address plus its offset (elements × element size); zero for null.</summary>
    public static IntPtr Of(Tensor? t) =>
        t is null ? IntPtr.Zero : THSStorage_data_ptr(t.Handle) + (nint)(t.storage_offset() * t.element_size());

    /// <summary>Of an int64 tensor (a counter such as a batch norm's num_batches_tracked); zero for null.</summary>
    public static IntPtr OfInt64(Tensor? t) =>
        t is null || t.dtype == ScalarType.Int64 ? Of(t) : throw new ArgumentException($"an int64 tensor is needed, not {t.dtype}");
}
