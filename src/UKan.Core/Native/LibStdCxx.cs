namespace UKan.Native;

/// <summary>Which libstdc++ this process uses and which symbol versions it defines.</summary>
public static class LibStdCxx
{
    /// <summary>The version TorchSharp 0.107's native library asks for (GCC 13); see docs/platform.md §2.</summary>
    public const string RequiredByTorchSharp = "GLIBCXX_3.4.32";

    /// <summary>
    /// Path of the libstdc++ mapped into this process. The .NET runtime (libcoreclr) links it, so it is the very
    /// copy the dynamic loader will bind LibTorchSharp against; reading /proc/self/maps avoids guessing paths.
    /// </summary>
    public static string? LoadedPath()
    {
        if (!OperatingSystem.IsLinux()) return null;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/');
            if (slash < 0) continue;
            var path = line[slash..].Trim();
            if (Path.GetFileName(path).StartsWith("libstdc++.so", StringComparison.Ordinal)) return path;
        }
        return null;
    }

    /// <summary>True when the loaded libstdc++ defines <paramref name="version"/>; null when it cannot be told.</summary>
    public static bool? Defines(string version)
    {
        var path = LoadedPath();
        if (path is null || !File.Exists(path)) return null;
        return ElfSymbolVersions.ReadVersionDefinitions(File.ReadAllBytes(path)).Contains(version);
    }
}
