using System.Diagnostics;
using System.Text.RegularExpressions;

namespace UKan.Native;

/// <summary>Where a libtorch directory came from.</summary>
public enum LibTorchSource { Bundled, Option, Environment, InstalledPyTorch }

/// <summary>A directory holding libtorch's shared libraries (libc10.so, libtorch_cpu.so, ...).</summary>
public sealed record LibTorchDirectory(string Path, LibTorchSource Source, string? Version)
{
    public bool HasCuda => File.Exists(System.IO.Path.Combine(Path, "libtorch_cuda.so"));
}

/// <summary>
/// Finds libtorch: the CPU build that ships with the app, a directory named by <c>--libtorch</c> or
/// <c>UKAN_LIBTORCH</c>, or the <c>lib</c> folder of an installed PyTorch (docs/platform.md §3: no CUDA build of
/// TorchSharp can be installed here, but a machine with a GPU nearly always has PyTorch, whose libtorch works).
/// </summary>
public static partial class LibTorchLocator
{
    public const string EnvironmentVariable = "UKAN_LIBTORCH";

    /// <summary>The libtorch that ships next to the app (TorchSharp-cpu), if the build has one.</summary>
    public static LibTorchDirectory? Bundled()
    {
        foreach (var dir in NativeDirectories())
            if (File.Exists(Path.Combine(dir, "libtorch_cpu.so")))
                return new LibTorchDirectory(dir, LibTorchSource.Bundled, "2.10.0");
        return null;
    }

    /// <summary>Folders next to the app where NuGet native assets land (framework-dependent and RID-specific builds).</summary>
    public static IEnumerable<string> NativeDirectories()
    {
        var baseDir = AppContext.BaseDirectory;
        yield return Path.Combine(baseDir, "runtimes", "linux-x64", "native");
        yield return baseDir;
    }

    /// <summary>A directory the user named; throws a <see cref="UserError"/> when it holds no libtorch.</summary>
    public static LibTorchDirectory FromUser(string path, LibTorchSource source)
    {
        var full = System.IO.Path.GetFullPath(path);
        // Accept the torch package folder or a libtorch distribution root as well as its lib folder.
        foreach (var candidate in new[] { full, System.IO.Path.Combine(full, "lib") })
            if (File.Exists(System.IO.Path.Combine(candidate, "libtorch_cpu.so")))
                return new LibTorchDirectory(candidate, source, ReadVersion(candidate));
        var what = source == LibTorchSource.Option ? "--libtorch" : EnvironmentVariable;
        throw new UserError($"{what} {path}: no libtorch_cpu.so there; point it at the 'lib' folder of a libtorch or PyTorch install (python3 -c \"import torch, os; print(os.path.dirname(torch.__file__) + '/lib')\").");
    }

    /// <summary>The lib folder of the PyTorch that <c>python3</c> imports, or null.</summary>
    public static LibTorchDirectory? InstalledPyTorch(TimeSpan? timeout = null)
    {
        foreach (var python in new[] { "python3", "python" })
        {
            var output = Run(python, "-c \"import importlib.util as u, os; s = u.find_spec('torch'); print(os.path.dirname(s.origin) if s else '')\"", timeout ?? TimeSpan.FromSeconds(60));
            if (output is null) continue;
            if (output.Trim().Length == 0) continue;
            var lib = System.IO.Path.Combine(output.Trim(), "lib");
            if (File.Exists(System.IO.Path.Combine(lib, "libtorch_cpu.so")))
                return new LibTorchDirectory(lib, LibTorchSource.InstalledPyTorch, ReadVersion(lib));
        }
        return null;
    }

    /// <summary>PyTorch's version from torch/version.py next to the lib folder, if present.</summary>
    public static string? ReadVersion(string libDir)
    {
        var versionPy = System.IO.Path.Combine(libDir, "..", "version.py");
        if (!File.Exists(versionPy)) return null;
        var m = VersionLine().Match(File.ReadAllText(versionPy));
        return m.Success ? m.Groups[1].Value : null;
    }

    /// <summary>
    /// LibTorchSharp 0.107 is built against libtorch 2.10; its C API has been stable across 2.10 and 2.11
    /// (docs/platform.md §3). Older libtorch (e.g. Debian's PyTorch 1.13) cannot work.
    /// </summary>
    public static bool IsCompatible(string? version)
    {
        if (version is null) return true;
        var m = MajorMinor().Match(version);
        if (!m.Success) return true;
        int major = int.Parse(m.Groups[1].Value), minor = int.Parse(m.Groups[2].Value);
        return major > 2 || (major == 2 && minor >= 10);
    }

    static string? Run(string file, string args, TimeSpan timeout)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo(file, args)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            });
            if (p is null) return null;
            var stdout = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(timeout)) { try { p.Kill(true); } catch { } return null; }
            return p.ExitCode == 0 ? stdout.Result : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }

    [GeneratedRegex(@"__version__\s*=\s*['""]([^'""]+)['""]")]
    private static partial Regex VersionLine();
    [GeneratedRegex(@"^(\d+)\.(\d+)")]
    private static partial Regex MajorMinor();
}
