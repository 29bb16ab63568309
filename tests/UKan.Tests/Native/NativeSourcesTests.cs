using UKan.Native;

namespace UKan.Tests.Native;

/// <summary>The kernel sources: embedded, or a file of the same name from the experiment folder (<see cref="NativeSources.KernelFolderVariable"/>).</summary>
public class NativeSourcesTests
{
    [Fact]
    public void A_kernel_file_in_the_folder_replaces_the_embedded_one_and_the_others_stay_embedded()
    {
        var folder = Directory.CreateTempSubdirectory("ukan-kernels-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "upsample_relu.cu"), "// an experiment\n");
            Assert.Equal("// an experiment\n", NativeSources.ReadKernel("upsample_relu.cu", folder));
            Assert.Equal(NativeSources.Read("batch_norm_relu.cu"), NativeSources.ReadKernel("batch_norm_relu.cu", folder));
            Assert.Contains("upsample2x_relu_backward", NativeSources.ReadKernel("upsample_relu.cu", null));
            Assert.Equal(NativeSources.Read("upsample_relu.cu"), NativeSources.ReadKernel("upsample_relu.cu", ""));
        }
        finally { Directory.Delete(folder, true); }
    }

    [Fact]
    public void A_folder_that_does_not_exist_is_a_user_error()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"ukan-no-such-{Guid.NewGuid():N}");
        var e = Assert.Throws<UserError>(() => NativeSources.ReadKernel("upsample_relu.cu", missing));
        Assert.Contains(NativeSources.KernelFolderVariable, e.Message);
    }
}
