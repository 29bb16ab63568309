using System.Runtime.InteropServices;
using System.Security.Cryptography;
using TorchSharp;

namespace UKan.Native;

/// <summary>Where torch should compute.</summary>
public enum DeviceRequest
{
    /// <summary>A GPU when a CUDA libtorch and a usable GPU are found, else the CPU.</summary>
    Auto,
    /// <summary>The CPU, even where a GPU is present.</summary>
    Cpu,
    /// <summary>A GPU; an error (<see cref="UserError"/>) when none is usable.</summary>
    Cuda,
}

/// <summary>How the caller wants torch set up; every field has a sensible default.</summary>
/// <param name="Device">Where to compute.</param>
/// <param name="LibTorch">A libtorch folder to load (its lib folder, a libtorch root or a torch package folder);
/// null: <c>UKAN_LIBTORCH</c>, else an installed PyTorch with CUDA (device auto/cuda), else the bundled CPU libtorch.</param>
/// <param name="Threads">Torch's CPU threads; null: torch's default (all cores; 4 on a GPU run).</param>
public sealed record RuntimeOptions(DeviceRequest Device = DeviceRequest.Auto, string? LibTorch = null, int? Threads = null);

/// <summary>What was loaded, from where, and the device chosen. Printed by <c>ukan info</c>.</summary>
/// <param name="Device">The device chosen.</param>
/// <param name="LibTorch">The libtorch loaded and where it came from.</param>
/// <param name="LibTorchSharpPath">The TorchSharp native wrapper loaded (a patched copy on older systems).</param>
/// <param name="PatchedForOldLibStdCxx">Whether that wrapper is the copy patched for a libstdc++ older than GCC 13.</param>
/// <param name="LibStdCxxPath">The libstdc++ the process uses.</param>
public sealed record RuntimeInfo(
    torch.Device Device,
    LibTorchDirectory LibTorch,
    string LibTorchSharpPath,
    bool PatchedForOldLibStdCxx,
    string? LibStdCxxPath)
{
    /// <summary>Whether CPU convolutions run on oneDNN, after the start-up probe (<see cref="Native.CpuConvolutions"/>).</summary>
    public CpuConvolutionStatus? CpuConvolutions { get; init; }
}

/// <summary>
/// Loads the native side of TorchSharp so that it works on any x64 Linux: patches LibTorchSharp where the
/// system libstdc++ is too old (docs/platform.md §2), and lets a CUDA libtorch from an installed PyTorch stand in
/// for the CUDA TorchSharp packages that cannot be installed (docs/platform.md §3). Must run before the first torch call.
/// </summary>
/// <remarks>
/// Mechanism: the chosen libtorch libraries and then LibTorchSharp are opened by full path. When TorchSharp
/// later opens "LibTorchSharp" / "torch_cuda" by name, the dynamic loader matches those names against the
/// sonames already loaded, so the copies chosen here are the ones used.
/// </remarks>
public static class TorchRuntime
{
    static readonly object Gate = new();
    static RuntimeInfo? current;

    /// <summary>The environment variable naming the cache folder (patched libraries, compiled shims).</summary>
    public const string CacheVariable = "UKAN_CACHE_DIR";

    /// <summary>The runtime, initialising it with defaults (device auto) on first use.</summary>
    public static RuntimeInfo Current => current ?? Initialize(new RuntimeOptions());

    /// <summary>Whether torch has been started in this process.</summary>
    public static bool IsInitialized => current is not null;

    /// <summary>Torch's CPU threads on a GPU run unless --threads says otherwise.</summary>
    public const int GpuHostThreads = 4;

    /// <summary>
    /// Starts torch once per process: sets malloc up (<see cref="MallocTuning.ApplyInProcess"/>), chooses and loads
    /// libtorch, picks the device and checks the CPU convolutions (<see cref="Native.CpuConvolutions"/>). Later calls
    /// return the first call's runtime (and may change <see cref="RuntimeOptions.Threads"/>). Call it before any other
    /// torch use when the defaults (device auto) are not wanted; the <c>Segmenter</c> and the <see cref="Training.Trainer"/>
    /// call it themselves otherwise.
    /// </summary>
    /// <exception cref="UserError">No usable libtorch, or a GPU was required and none is usable.</exception>
    public static RuntimeInfo Initialize(RuntimeOptions options)
    {
        // The layers reach the fused CUDA kernels through this loader, never native code directly.
        UKan.Layers.KanFeatures.CudaLoader ??= device => (FusedCudaKernels.TryLoad(device, out var problem), problem);
        lock (Gate)
        {
            if (current is not null)
            {
                if (options.Device == DeviceRequest.Cuda && current.Device.type != DeviceType.CUDA)
                    throw new UserError("--device cuda was asked for after torch had already started on the CPU; pass --device before any other work.");
                if (options.Threads is int t) torch.set_num_threads(t);
                return current;
            }
            if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            {
                // Elsewhere TorchSharp's own loading is used unchanged.
                torch.InitializeDeviceType(DeviceType.CPU);
                current = new RuntimeInfo(torch.CPU, new LibTorchDirectory("", LibTorchSource.Bundled, null), "", false, null);
                return current;
            }

            // Before libtorch allocates anything: in a process that ukan did not start with GLIBC_TUNABLES set (an app
            // using the library, a test host), the same malloc behaviour through mallopt (MallocTuning).
            MallocTuning.ApplyInProcess();
            var libtorch = ChooseLibTorch(options);
            var sharp = FindLibTorchSharp();
            var (sharpPath, patched) = PatchIfNeeded(sharp);
            Preload(libtorch, sharpPath);

            torch.Device device = torch.CPU;
            bool wantCuda = options.Device != DeviceRequest.Cpu && libtorch.HasCuda;
            if (wantCuda)
            {
                bool ok = torch.TryInitializeDeviceType(DeviceType.CUDA) && torch.cuda.is_available();
                if (ok) device = torch.CUDA;
                else if (options.Device == DeviceRequest.Cuda)
                    throw new UserError($"--device cuda: the libtorch at {libtorch.Path} has CUDA but no usable GPU was found (check nvidia-smi and the driver).");
            }
            else if (options.Device == DeviceRequest.Cuda)
                throw new UserError("--device cuda: no CUDA libtorch found; install PyTorch with CUDA, or pass --libtorch DIR (or set UKAN_LIBTORCH) to its lib folder.");
            if (device.type == DeviceType.CPU) torch.InitializeDeviceType(DeviceType.CPU);
            if (options.Threads is int threads) torch.set_num_threads(threads);
            // On a GPU the host's torch threads only initialise weights and copy checkpoints; all cores each would
            // oversubscribe the host as soon as several runs share a machine (three runs starting together spent
            // minutes in weight initialisation on a 16-core host).
            else if (device.type == DeviceType.CUDA) torch.set_num_threads(Math.Min(GpuHostThreads, Environment.ProcessorCount));

            current = new RuntimeInfo(device, libtorch, sharpPath, patched, LibStdCxx.LoadedPath());
            current = current with { CpuConvolutions = CpuConvolutions.Configure() };
            return current;
        }
    }

    static LibTorchDirectory ChooseLibTorch(RuntimeOptions options)
    {
        LibTorchDirectory? chosen = null, installed = null;
        if (options.LibTorch is not null) chosen = LibTorchLocator.FromUser(options.LibTorch, LibTorchSource.Option);
        else if (Environment.GetEnvironmentVariable(LibTorchLocator.EnvironmentVariable) is { Length: > 0 } env)
            chosen = LibTorchLocator.FromUser(env, LibTorchSource.Environment);
        else if (options.Device != DeviceRequest.Cpu)
        {
            // Auto-detection only takes a PyTorch that brings CUDA: for the CPU the bundled build is the tested one.
            installed = LibTorchLocator.InstalledPyTorch();
            if (installed is { HasCuda: true } && LibTorchLocator.IsCompatible(installed.Version)) chosen = installed;
        }
        chosen ??= LibTorchLocator.Bundled();
        if (chosen is null)
        {
            installed ??= LibTorchLocator.InstalledPyTorch();
            if (installed is not null && LibTorchLocator.IsCompatible(installed.Version)) chosen = installed;
        }
        if (chosen is null)
            throw new UserError("no libtorch found: this build has no CPU libtorch and no PyTorch >= 2.10 was found; pass --libtorch DIR or set UKAN_LIBTORCH.");
        if (!LibTorchLocator.IsCompatible(chosen.Version))
            throw new UserError($"the libtorch at {chosen.Path} is version {chosen.Version}; TorchSharp 0.107 needs libtorch 2.10 or newer.");
        return chosen;
    }

    static string FindLibTorchSharp()
    {
        foreach (var dir in LibTorchLocator.NativeDirectories())
        {
            var path = Path.Combine(dir, "libLibTorchSharp.so");
            if (File.Exists(path)) return path;
        }
        throw new InvalidOperationException($"libLibTorchSharp.so is missing from {AppContext.BaseDirectory}; the build is incomplete.");
    }

    /// <summary>
    /// Returns the LibTorchSharp to load: the original where the system libstdc++ has GLIBCXX_3.4.32, else a
    /// patched copy in the user cache (the original, which may be the NuGet cache's file, is never written).
    /// </summary>
    public static (string Path, bool Patched) PatchIfNeeded(string original)
    {
        var bytes = File.ReadAllBytes(original);
        var need = ElfSymbolVersions.ReadVersionNeeds(bytes).FirstOrDefault(n => n.Version == LibStdCxx.RequiredByTorchSharp);
        if (need is null || need.IsWeak) return (original, false);
        if (LibStdCxx.Defines(LibStdCxx.RequiredByTorchSharp) != false) return (original, false);

        var hash = Convert.ToHexString(SHA256.HashData(bytes))[..16].ToLowerInvariant();
        foreach (var root in CacheRoots())
        {
            try
            {
                var dir = Path.Combine(root, "native", hash);
                var target = Path.Combine(dir, "libLibTorchSharp.so");
                if (File.Exists(target) && IsPatchedCopy(target)) return (target, true);
                Directory.CreateDirectory(dir);
                var (patched, _) = ElfSymbolVersions.MakeRequirementWeak(bytes, LibStdCxx.RequiredByTorchSharp);
                AtomicFile.WriteAllBytes(target, patched);
                return (target, true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* try the next root */ }
        }
        throw new UserError($"cannot write the patched libLibTorchSharp.so: no writable cache folder; set {CacheVariable} to a writable folder.");
    }

    static bool IsPatchedCopy(string path) =>
        ElfSymbolVersions.ReadVersionNeeds(File.ReadAllBytes(path)).Any(n => n.Version == LibStdCxx.RequiredByTorchSharp && n.IsWeak);

    /// <summary>The first writable per-user cache folder (patched libraries, compiled shims).</summary>
    public static string CacheFolder()
    {
        foreach (var root in CacheRoots())
        {
            try { Directory.CreateDirectory(root); return root; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        }
        throw new UserError($"no writable cache folder; set {CacheVariable} to a writable folder.");
    }

    static IEnumerable<string> CacheRoots()
    {
        if (Environment.GetEnvironmentVariable(CacheVariable) is { Length: > 0 } explicitRoot) yield return explicitRoot;
        if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg) yield return Path.Combine(xdg, "ukan");
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        if (home.Length > 0) yield return Path.Combine(home, ".cache", "ukan");
        yield return Path.Combine(Path.GetTempPath(), $"ukan-{Environment.UserName}");
    }

    static void Preload(LibTorchDirectory libtorch, string libTorchSharp)
    {
        // Dependency order: each library's DT_NEEDED entries are already loaded when it is opened.
        foreach (var name in new[] { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" })
        {
            var path = Path.Combine(libtorch.Path, name);
            if (!File.Exists(path)) continue;
            if (!NativeLibrary.TryLoad(path, out _))
                throw new UserError($"cannot load {path}; check that this libtorch matches this machine (CUDA driver, glibc).");
        }
        // Before TorchSharp makes its first Scalar (see DeferredScalarFree).
        try { DeferredScalarFree.Install(NativeLibrary.Load(libTorchSharp)); }
        catch (DllNotFoundException e)
        {
            throw new UserError($"cannot load {libTorchSharp}: {FirstLine(e.Message)}");
        }
    }

    static string FirstLine(string s) => s.Split('\n')[0].Trim();
}
