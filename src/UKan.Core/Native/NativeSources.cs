namespace UKan.Native;

/// <summary>
/// The C++ and CUDA sources compiled at run time (the libtorch shim, the fused kernels), kept as real files under
/// Native/Shim and Native/Kernels and embedded in this assembly (UKan.Core.csproj names them UKan.Native.&lt;file&gt;).
/// </summary>
public static class NativeSources
{
    /// <summary>
    /// A folder whose .cu files replace the embedded kernels of the same name (a kernel experiment: the kernels before
    /// and after a change timed in one process run on one GPU). Unset in normal use.
    /// </summary>
    public const string KernelFolderVariable = "UKAN_KERNEL_SOURCES";

    /// <summary>The CUDA source <paramref name="fileName"/>: from <see cref="KernelFolderVariable"/>'s folder where it holds one, else embedded.</summary>
    public static string ReadKernel(string fileName) => ReadKernel(fileName, Environment.GetEnvironmentVariable(KernelFolderVariable));

    internal static string ReadKernel(string fileName, string? folder)
    {
        if (string.IsNullOrEmpty(folder)) return Read(fileName);
        if (!Directory.Exists(folder))
            throw new UserError($"{KernelFolderVariable}={folder}: no such folder; unset it to use the built-in kernels.");
        var path = Path.Combine(folder, fileName);
        return File.Exists(path) ? File.ReadAllText(path) : Read(fileName);
    }

    public static string Read(string fileName)
    {
        using var stream = typeof(NativeSources).Assembly.GetManifestResourceStream($"UKan.Native.{fileName}")
            ?? throw new InvalidOperationException($"embedded source {fileName} is missing from {typeof(NativeSources).Assembly.GetName().Name}; the build is incomplete");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
