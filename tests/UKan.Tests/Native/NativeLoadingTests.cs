using TorchSharp;
using UKan.Native;

namespace UKan.Tests.Native;

public class NativeLoadingTests
{
    static string ShippedLibTorchSharp() =>
        LibTorchLocator.NativeDirectories().Select(d => Path.Combine(d, "libLibTorchSharp.so")).First(File.Exists);

    [Fact]
    public void Patch_sets_only_the_weak_flag_of_the_GLIBCXX_3_4_32_requirement()
    {
        var original = File.ReadAllBytes(ShippedLibTorchSharp());
        var before = ElfSymbolVersions.ReadVersionNeeds(original);
        var target = Assert.Single(before, n => n.Version == LibStdCxx.RequiredByTorchSharp);
        Assert.False(target.IsWeak);

        var (patched, changed) = ElfSymbolVersions.MakeRequirementWeak(original, LibStdCxx.RequiredByTorchSharp);

        Assert.Equal(1, changed);
        Assert.Equal(original.Length, patched.Length);
        var differing = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToArray();
        // vna_flags is a little-endian 16-bit field; VER_FLG_WEAK = 0x2 lives in its low byte.
        Assert.Equal([checked((int)target.FlagsOffset)], differing);
        Assert.Equal(original[differing[0]] | ElfSymbolVersions.VerFlgWeak, patched[differing[0]]);

        var after = ElfSymbolVersions.ReadVersionNeeds(patched);
        Assert.Equal(before.Count, after.Count);
        for (int i = 0; i < before.Count; i++)
        {
            Assert.Equal(before[i].Version, after[i].Version);
            Assert.Equal(before[i].Version == LibStdCxx.RequiredByTorchSharp, after[i].IsWeak != before[i].IsWeak);
        }
    }

    [Fact]
    public void Patch_is_idempotent()
    {
        var original = File.ReadAllBytes(ShippedLibTorchSharp());
        var (once, _) = ElfSymbolVersions.MakeRequirementWeak(original, LibStdCxx.RequiredByTorchSharp);
        var (twice, changed) = ElfSymbolVersions.MakeRequirementWeak(once, LibStdCxx.RequiredByTorchSharp);
        Assert.Equal(0, changed);
        Assert.Equal(once, twice);
    }

    [Fact]
    public void Patch_refuses_non_elf_input_and_a_missing_version()
    {
        Assert.Throws<InvalidDataException>(() => ElfSymbolVersions.ReadVersionNeeds(new byte[100]));
        var original = File.ReadAllBytes(ShippedLibTorchSharp());
        Assert.Throws<InvalidDataException>(() => ElfSymbolVersions.MakeRequirementWeak(original, "GLIBCXX_99.0"));
    }

    [Fact]
    public void System_libstdcxx_versions_are_read()
    {
        var path = LibStdCxx.LoadedPath();
        Assert.NotNull(path);
        var defs = ElfSymbolVersions.ReadVersionDefinitions(File.ReadAllBytes(path));
        Assert.Contains("GLIBCXX_3.4", defs);
        Assert.Contains("CXXABI_1.3", defs);
    }

    [Fact]
    public void Torch_loads_and_a_tensor_op_runs()
    {
        var rt = TestTorch.Runtime;
        // Where the system libstdc++ lacks the version, the loaded copy must be the patched one, never the original.
        if (LibStdCxx.Defines(LibStdCxx.RequiredByTorchSharp) == false)
        {
            Assert.True(rt.PatchedForOldLibStdCxx);
            Assert.NotEqual(ShippedLibTorchSharp(), rt.LibTorchSharpPath);
        }
        using var a = torch.tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        using var b = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, b.data<float>().ToArray());
    }

    [Fact]
    public void Shipped_library_is_left_untouched()
    {
        _ = TestTorch.Runtime;
        var need = ElfSymbolVersions.ReadVersionNeeds(File.ReadAllBytes(ShippedLibTorchSharp()))
            .Single(n => n.Version == LibStdCxx.RequiredByTorchSharp);
        Assert.False(need.IsWeak);
    }

    [Fact]
    public void Malloc_tuning_merges_with_existing_tunables()
    {
        var merged = MallocTuning.Merge("glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1");
        Assert.True(MallocTuning.IsActive(merged));
        Assert.Contains("glibc.malloc.arena_max=2", merged);
        Assert.DoesNotContain("trim_threshold=1:", merged + ":");
        Assert.False(MallocTuning.IsActive("glibc.malloc.arena_max=2"));
    }
}
