using System.Runtime.InteropServices;

namespace UKan.Native;

/// <summary>
/// Switches of libtorch's global context (at::globalContext()) that TorchSharp does not expose, reached through
/// libtorch_cpu's exported C++ symbols (Itanium ABI: a member function takes the object as its first argument).
/// Absent symbols (another libtorch build) leave <see cref="Available"/> false, and setters then do nothing.
/// </summary>
public static class AtenContext
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr GlobalContextFn();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate void SetFlagFn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool on);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)][return: MarshalAs(UnmanagedType.U1)] delegate bool GetFlagFn(IntPtr context);

    sealed record Api(GlobalContextFn Global, SetFlagFn SetMkldnn, GetFlagFn GetMkldnn, SetFlagFn? SetNnpack);

    static readonly Lazy<Api?> api = new(Bind);

    public static bool Available => api.Value is not null;

    static Api? Bind()
    {
        var dir = TorchRuntime.Current.LibTorch.Path;
        var path = string.IsNullOrEmpty(dir) ? "libtorch_cpu.so" : Path.Combine(dir, "libtorch_cpu.so");
        if (!NativeLibrary.TryLoad(path, out var lib) && !NativeLibrary.TryLoad("libtorch_cpu.so", out lib)) return null;
        T? Get<T>(string symbol) where T : Delegate =>
            NativeLibrary.TryGetExport(lib, symbol, out var p) ? Marshal.GetDelegateForFunctionPointer<T>(p) : null;
        var global = Get<GlobalContextFn>("_ZN2at13globalContextEv");
        var set = Get<SetFlagFn>("_ZN2at7Context20setUserEnabledMkldnnEb");
        var get = Get<GetFlagFn>("_ZNK2at7Context17userEnabledMkldnnEv");
        var nnpack = Get<SetFlagFn>("_ZN2at7Context20setUserEnabledNNPACKEb");
        return global is null || set is null || get is null ? null : new Api(global, set, get, nnpack);
    }

    /// <summary>
    /// torch.backends.mkldnn.enabled: whether CPU convolutions (and a few other ops) may run on oneDNN. Off, ATen
    /// uses its own im2col + GEMM convolutions. Null where the switch cannot be reached.
    /// </summary>
    public static bool? MkldnnEnabled
    {
        get => api.Value is { } a ? a.GetMkldnn(a.Global()) : null;
        set { if (api.Value is { } a && value is bool on) a.SetMkldnn(a.Global(), on); }
    }

    /// <summary>
    /// torch.backends.nnpack.enabled (write only). With oneDNN off, ATen tries NNPACK first for some convolutions,
    /// and where NNPACK does not recognise the CPU it prints a warning on every call before falling back.
    /// </summary>
    public static void SetNnpackEnabled(bool on)
    {
        if (api.Value is { SetNnpack: { } set } a) set(a.Global(), on);
    }
}
