using UKan.Native;

namespace UKan.Tests.Native;

/// <summary>
/// What the kernel module reads from the device's architecture name: the compute capability's major version, which
/// decides whether the TF32 tensor-core kernels (small_conv.cu, kan_product_tf32x3.cu) may be taken (sm_80 on).
/// </summary>
public class CudaKernelModuleTests
{
    [Theory]
    [InlineData("sm_70", 7)]
    [InlineData("sm_75", 7)]
    [InlineData("sm_80", 8)]
    [InlineData("sm_86", 8)]
    [InlineData("sm_90", 9)]
    [InlineData("sm_100", 10)]
    [InlineData("sm_120", 12)]
    public void The_major_version_comes_from_the_architecture_name(string arch, int major) =>
        Assert.Equal(major, CudaKernelModule.MajorOf(arch));

    [Theory]
    [InlineData("compute_90")]
    [InlineData("sm_")]
    [InlineData("sm_x0")]
    public void A_name_that_is_not_an_architecture_is_refused(string arch) =>
        Assert.Throws<ArgumentException>(() => CudaKernelModule.MajorOf(arch));

    /// <summary>
    /// The fused program must compile for GPUs without TF32 mma (before sm_80), so that their other fused kernels load:
    /// the TF32 instructions sit behind the architecture test, with a stand-in for older GPUs.
    /// </summary>
    [Fact]
    public void The_tf32_instructions_are_only_compiled_for_sm80_and_later()
    {
        var source = NativeSources.ReadKernel("small_conv.cu");
        int guard = source.IndexOf("#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800", StringComparison.Ordinal);
        int mma = source.IndexOf("asm volatile(\"mma.sync", StringComparison.Ordinal);
        int older = source.IndexOf("#elif defined(__CUDA_ARCH__)", StringComparison.Ordinal);
        Assert.True(guard >= 0 && guard < mma && mma < older, "the TF32 mma must be inside the sm_80 branch");
        Assert.True(mma >= 0 && source.IndexOf("asm volatile(\"mma.sync", mma + 1, StringComparison.Ordinal) < 0, "one TF32 mma instruction");
        Assert.DoesNotContain("asm volatile(\"mma", NativeSources.ReadKernel("kan_product_tf32x3.cu"));   // it calls small_conv.cu's conv_mma
    }
}
