using System.Runtime.InteropServices;
using System.Text;

namespace UKan.Native;

/// <summary>One GPU as the driver reports it.</summary>
public sealed record GpuInfo(int Index, string Name, long TotalBytes, long FreeBytes);

/// <summary>
/// Reads GPU names and memory through NVML (libnvidia-ml.so.1, part of every NVIDIA driver install), which needs
/// neither CUDA nor torch; returns an empty list where there is no driver.
/// </summary>
public static partial class Nvml
{
    const string Lib = "libnvidia-ml.so.1";

    [StructLayout(LayoutKind.Sequential)]
    struct Memory { public ulong Total, Free, Used; }

    [LibraryImport(Lib, EntryPoint = "nvmlInit_v2")] private static partial int Init();
    [LibraryImport(Lib, EntryPoint = "nvmlShutdown")] private static partial int Shutdown();
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetCount_v2")] private static partial int GetCount(out uint count);
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetHandleByIndex_v2")] private static partial int GetHandle(uint index, out IntPtr device);
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetName")] private static partial int GetName(IntPtr device, [Out] byte[] name, uint length);
    [LibraryImport(Lib, EntryPoint = "nvmlDeviceGetMemoryInfo")] private static partial int GetMemory(IntPtr device, out Memory memory);
    [LibraryImport(Lib, EntryPoint = "nvmlSystemGetDriverVersion")] private static partial int GetDriverVersion([Out] byte[] version, uint length);

    public static (string? Driver, IReadOnlyList<GpuInfo> Gpus) Query()
    {
        var gpus = new List<GpuInfo>();
        try
        {
            if (Init() != 0) return (null, gpus);
            try
            {
                var buffer = new byte[96];
                string? driver = GetDriverVersion(buffer, (uint)buffer.Length) == 0 ? CString(buffer) : null;
                if (GetCount(out var count) != 0) return (driver, gpus);
                for (uint i = 0; i < count; i++)
                {
                    if (GetHandle(i, out var handle) != 0) continue;
                    Array.Clear(buffer);
                    var name = GetName(handle, buffer, (uint)buffer.Length) == 0 ? CString(buffer) : "?";
                    GetMemory(handle, out var mem);
                    gpus.Add(new GpuInfo((int)i, name, (long)mem.Total, (long)mem.Free));
                }
                return (driver, gpus);
            }
            finally { Shutdown(); }
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return (null, gpus); }
    }

    static string CString(byte[] b) => Encoding.ASCII.GetString(b, 0, Math.Max(0, Array.IndexOf(b, (byte)0) is var n && n >= 0 ? n : b.Length));
}
