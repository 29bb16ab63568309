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

    /// <summary>
    /// Every entry the launchers look up is a kernel of the fused program, as the preprocessor expands it (entries made
    /// by a macro included): one name the program lacks would fail the whole module's load on a GPU, so every fused
    /// path would be off. g++'s preprocessor stands in for NVRTC's.
    /// </summary>
    [Fact]
    public void Every_entry_the_launchers_look_up_is_declared_in_the_fused_program()
    {
        var dir = Directory.CreateTempSubdirectory("ukan-expanded-").FullName;
        var (source, expanded) = (Path.Combine(dir, "fused.cu"), Path.Combine(dir, "fused.txt"));
        File.WriteAllText(source, UKan.Native.FusedCudaKernels.Source);
        using (var p = System.Diagnostics.Process.Start("g++", ["-E", "-P", "-x", "c++", source, "-o", expanded]))
            Assert.True(p.WaitForExit(TimeSpan.FromMinutes(1)) && p.ExitCode == 0, "g++ -E failed on the fused program");
        var declared = System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(expanded), @"extern ""C"" __global__ void (?:__launch_bounds__\([^)]*\) )?(\w+)\(")
            .Select(m => m.Groups[1].Value).ToHashSet();
        Assert.True(declared.Count > 50, $"only {declared.Count} kernels found in the expanded program");
        foreach (var entry in UKan.Native.FusedCudaKernels.Functions) Assert.Contains(entry, declared);
        Assert.Equal(UKan.Native.FusedCudaKernels.Functions.Length, UKan.Native.FusedCudaKernels.Functions.Distinct().Count());
    }
}
