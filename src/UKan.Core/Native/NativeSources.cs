namespace UKan.Native;

/// <summary>
/// The C++ and CUDA sources compiled at run time (the libtorch shim, the fused kernels), kept as real files under
/// Native/Shim and Native/Kernels and embedded in this assembly (UKan.Core.csproj names them UKan.Native.&lt;file&gt;).
/// </summary>
public static class NativeSources
{
    public static string Read(string fileName)
    {
        using var stream = typeof(NativeSources).Assembly.GetManifestResourceStream($"UKan.Native.{fileName}")
            ?? throw new InvalidOperationException($"embedded source {fileName} is missing from {typeof(NativeSources).Assembly.GetName().Name}; the build is incomplete");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
