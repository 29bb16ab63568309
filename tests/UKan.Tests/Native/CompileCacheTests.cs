using System.Diagnostics;
using UKan.Native;

namespace UKan.Tests.Native;

/// <summary>
/// "Compile once per machine" (<see cref="CompileCache"/>): racing builders, locks left by dead processes, failed
/// builds. The build functions here stand in for g++ and NVRTC.
/// </summary>
public sealed class CompileCacheTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), $"ukan-compile-cache-{Guid.NewGuid():N}");

    public CompileCacheTests() => Directory.CreateDirectory(dir);

    public void Dispose()
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task Two_racing_builders_build_once_and_both_get_the_result()
    {
        var entry = Path.Combine(dir, "sub", "lib.so");
        int builds = 0;
        using var bothStarted = new Barrier(2);
        void Build(string tmp)
        {
            Interlocked.Increment(ref builds);
            Thread.Sleep(300);   // a slow compile: the other builder arrives while it runs
            File.WriteAllText(tmp, "compiled");
        }
        CacheOutcome Run() { bothStarted.SignalAndWait(); return CompileCache.GetOrBuild(entry, Build); }
        var results = await Task.WhenAll(Task.Run(Run), Task.Run(Run));
        Assert.Equal(1, builds);
        Assert.All(results, r => Assert.Equal(entry, r.Path));
        Assert.Single(results, r => r.Built);
        Assert.Equal("compiled", File.ReadAllText(entry));
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(entry)!, "*.tmp"));
    }

    [Fact]
    public void An_existing_entry_is_returned_without_building()
    {
        var entry = Path.Combine(dir, "k.cubin");
        File.WriteAllText(entry, "old");
        var outcome = CompileCache.GetOrBuild(entry, _ => throw new InvalidOperationException("must not build"));
        Assert.False(outcome.Built);
        Assert.Equal("old", File.ReadAllText(entry));
    }

    [Fact]
    public void A_failed_build_leaves_no_file_and_the_next_call_builds_again()
    {
        var entry = Path.Combine(dir, "k.cubin");
        var error = Assert.Throws<InvalidOperationException>(() => CompileCache.GetOrBuild(entry, tmp =>
        {
            File.WriteAllText(tmp, "half a fi");
            throw new InvalidOperationException("compiler crashed");
        }));
        Assert.Equal("compiler crashed", error.Message);
        Assert.False(File.Exists(entry));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        var outcome = CompileCache.GetOrBuild(entry, tmp => File.WriteAllText(tmp, "whole"));
        Assert.True(outcome.Built);
        Assert.Equal("whole", File.ReadAllText(entry));
    }

    [Fact]
    public void A_build_that_writes_nothing_is_a_failure()
    {
        var entry = Path.Combine(dir, "k.cubin");
        Assert.Throws<InvalidOperationException>(() => CompileCache.GetOrBuild(entry, _ => { }));
        Assert.False(File.Exists(entry));
    }

    [Fact]
    public void A_lock_left_by_a_killed_process_does_not_block()
    {
        var entry = Path.Combine(dir, "lib.so");
        // Another process takes the lock (flock(1) uses flock(2), as .NET's FileShare.None does) and is killed.
        Process holderStart;
        try { holderStart = Process.Start(new ProcessStartInfo("flock", ["-x", entry + ".lock", "sleep", "60"]) { UseShellExecute = false })!; }
        catch (System.ComponentModel.Win32Exception) { Assert.Skip("flock(1) (util-linux) is not installed"); return; }
        using var holder = holderStart;
        var clock = Stopwatch.StartNew();
        while (!IsLocked(entry + ".lock"))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "flock did not take the lock");
            Thread.Sleep(20);
        }
        // While it lives, a waiter with a short patience gives up waiting and builds its own copy.
        var impatient = CompileCache.GetOrBuild(Path.Combine(dir, "other.so"), tmp => File.WriteAllText(tmp, "x"), TimeSpan.FromMilliseconds(200));
        Assert.True(impatient.Built);
        holder.Kill(entireProcessTree: true);
        holder.WaitForExit();

        clock.Restart();
        var outcome = CompileCache.GetOrBuild(entry, tmp => File.WriteAllText(tmp, "built"), TimeSpan.FromMinutes(1));
        Assert.True(outcome.Built);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"waited {clock.Elapsed} for a dead process's lock");
        Assert.True(File.Exists(entry + ".lock"), "the lock file stays (deleting it would let two builders in)");
    }

    [Fact]
    public void A_holder_that_never_finishes_makes_the_waiter_build_its_own_copy_after_the_wait()
    {
        var entry = Path.Combine(dir, "lib.so");
        using (new FileStream(entry + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None))
        {
            var clock = Stopwatch.StartNew();
            var outcome = CompileCache.GetOrBuild(entry, tmp => File.WriteAllText(tmp, "mine"), TimeSpan.FromMilliseconds(300));
            Assert.True(outcome.Built);
            Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(10));
        }
        Assert.Equal("mine", File.ReadAllText(entry));
    }

    static bool IsLocked(string path)
    {
        if (!File.Exists(path)) return false;
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException) { return true; }
    }

    [Fact]
    public void The_runtime_compiled_sources_are_embedded_files()
    {
        var shim = NativeSources.Read("torch_shim.cpp");
        Assert.Contains("extern \"C\"", shim);
        Assert.Contains("ukan_graph_replay", shim);
        var kernels = FusedCudaKernels.Source;
        foreach (var name in new[] { "kan_features(", "kan_features_backward(", "psi_forward(", "psi_backward(" })
            Assert.Contains($"extern \"C\" __global__ void {name}", kernels);
        // The ψ kernels use the cardinal B-spline helpers defined in the first file: one program, in this order.
        Assert.True(kernels.IndexOf("float cardinal(", StringComparison.Ordinal) < kernels.IndexOf("psi_forward(", StringComparison.Ordinal));
    }
}
