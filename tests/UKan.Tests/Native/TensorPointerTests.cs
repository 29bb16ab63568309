using System.Runtime.InteropServices;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The addresses handed to the CUDA kernels point at the tensor's own memory for every dtype the kernels store:
/// bits written there show up in the tensor (a converted copy's address, what TorchSharp's typed storage gives for
/// another dtype, would leave the tensor unchanged), and a view's address is its offset into the same storage.
/// </summary>
public class TensorPointerTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Int64)]
    public void The_address_is_the_tensors_own_memory(ScalarType dtype)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var t = zeros(4, 6, dtype: dtype);
        var row = t[2];                                     // a view two rows (12 elements) into the storage
        Assert.Equal(TensorPointer.Of(t) + (nint)(12 * t.element_size()), TensorPointer.Of(row));
        var one = ones(1, dtype: dtype);                    // the bits of 1 in this dtype, written through the address
        var bits = new byte[one.element_size()];
        Marshal.Copy(TensorPointer.Of(one), bits, 0, bits.Length);
        Marshal.Copy(bits, 0, TensorPointer.Of(row) + (nint)(3 * t.element_size()), bits.Length);
        Assert.Equal(1.0, t[2, 3].to(float64).item<double>());
        Assert.Equal(1.0, t.to(float64).sum().item<double>());
    }

    [Fact]
    public void Int64_counters_are_checked()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        Assert.Equal(IntPtr.Zero, TensorPointer.OfInt64(null));
        Assert.Throws<ArgumentException>(() => TensorPointer.OfInt64(zeros(1)));
    }
}
