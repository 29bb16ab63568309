using System.Runtime.InteropServices;
using UKan.Native;

namespace UKan.Tests.Native;

/// <summary>
/// The malloc settings of docs/platform.md §4 hold in any process that started torch through TorchRuntime, whether
/// they came from GLIBC_TUNABLES (ukan, .ci/run) or from mallopt at initialisation (an app using the library, a test
/// host started without them).
/// </summary>
[Collection(nameof(NativeHeapCollection))]
public class MallocTuningTests
{
    [Fact]
    public void Torch_start_says_how_malloc_was_set_up()
    {
        _ = TestTorch.Runtime;
        var expected = MallocTuning.IsActive() ? MallocTuning.Variable : MallocTuning.OptedOut ? "opted out" : "mallopt";
        Assert.Equal(expected, MallocTuning.InProcessState);
        Assert.Equal(expected != "opted out", MallocTuning.ApplyInProcess());   // idempotent: the same answer again
        Assert.Equal(expected, MallocTuning.InProcessState);
    }

    [Fact]
    public void A_40_MiB_block_comes_from_the_heap_not_from_its_own_mapping()
    {
        _ = TestTorch.Runtime;
        if (MallocTuning.OptedOut) Assert.Skip($"{MallocTuning.OptOutVariable}=1: glibc's defaults are in effect on purpose");
        if (!NativeHeap.Available) Assert.Skip("glibc mallinfo2 is not available");
        // With glibc's defaults a block above 32 MiB always gets its own mmap (and munmap on free), the cost that
        // the settings remove; with them it is served from the heap. Below 64 MiB: a thread other than the main one
        // allocates from a thread arena, whose heaps are at most 64 MiB (HEAP_MAX_SIZE), so glibc maps larger blocks
        // whatever the thresholds say.
        const long size = 40L << 20;
        long before = NativeHeap.MappedBytes();
        var block = Marshal.AllocHGlobal((nint)size);   // malloc on Unix
        try
        {
            Marshal.WriteByte(block, 1);
            long mapped = NativeHeap.MappedBytes() - before;
            Assert.True(mapped < size, $"the 40 MiB block was mmapped ({mapped} bytes more in mapped blocks)");
        }
        finally { Marshal.FreeHGlobal(block); }
    }
}
