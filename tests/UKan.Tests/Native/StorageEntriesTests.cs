using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// How the launchers pick a kernel's entry by storage type (<see cref="StorageEntries"/>): the names of both entries,
/// the entry for float32 and bfloat16 tensors, a clear error for other dtypes and for a gradient whose dtype is not the
/// input's.
/// </summary>
public class StorageEntriesTests
{
    [Fact]
    public void The_entry_follows_the_dtype_and_other_dtypes_are_refused()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        Assert.Equal(["a", "b", "a_bf16", "b_bf16"], StorageEntries.Names("a", "b"));
        Assert.Equal(["upsample2x_relu", "upsample2x_relu_backward", "upsample2x_relu_bf16", "upsample2x_relu_backward_bf16"],
            UpsampleKernels.Functions.Take(4).ToArray());
        Assert.Equal(["maxpool2x_relu", "maxpool2x_relu_backward", "maxpool2x_relu_bf16", "maxpool2x_relu_backward_bf16"],
            MaxPoolKernels.Functions);
        var entries = new StorageEntries(11, 22);
        Assert.Equal(11, entries.For(zeros(2)));
        Assert.Equal(22, entries.For(zeros(2, dtype: bfloat16)));
        foreach (var dtype in new[] { ScalarType.Float16, ScalarType.Float64, ScalarType.Int32 })
        {
            Assert.False(StorageEntries.Stores(dtype));
            Assert.Contains(dtype.ToString(), Assert.Throws<ArgumentException>(() => entries.For(zeros(2, dtype: dtype))).Message);
        }
        StorageEntries.CheckGradient("test", zeros(2, dtype: bfloat16), zeros(2, dtype: bfloat16));
        var error = Assert.Throws<ArgumentException>(() => StorageEntries.CheckGradient("test", zeros(2, dtype: bfloat16), zeros(2)));
        Assert.Contains("Float32 gradient for a BFloat16 input", error.Message);
    }
}
