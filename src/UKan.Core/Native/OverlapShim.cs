using System.Runtime.InteropServices;

namespace UKan.Native;

/// <summary>
/// The native half of the gradient all-reduce overlapped with backward (Native/Shim/ddp_overlap.cpp, compiled like the
/// libtorch shim but into a library of its own, so that a failure here leaves the rest of the shim working):
/// post-accumulate-grad hooks on the parameters that report each gradient as it is accumulated, and the launch of
/// one bucket's ncclAllReduce on a communication stream that first waits for the gradient work queued so far.
/// Where it cannot be built or loaded, <see cref="Available"/> is false and <see cref="Problem"/> says why.
/// </summary>
public static class OverlapShim
{
    /// <summary>Called from autograd's thread with the index of the parameter whose gradient was just accumulated.</summary>
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] public delegate void ReadyFn(int parameter);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int CreateFn(int device, IntPtr allReduce, IntPtr comm, IntPtr ready, int count, IntPtr[] parameters, int buckets, out IntPtr handle);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate void DestroyFn(IntPtr handle);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int LaunchFn(IntPtr handle, int bucket, IntPtr data, long count);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int JoinFn(IntPtr handle);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr ErrorFn();

    sealed class Api
    {
        public required CreateFn Create;
        public required DestroyFn Destroy;
        public required LaunchFn Launch;
        public required JoinFn Join;
        public required ErrorFn LastError;
    }

    static readonly Lazy<Api?> api = new(Load);
    public static string? Problem { get; private set; }
    public static bool Available => api.Value is not null;
    static Api A => api.Value ?? throw new InvalidOperationException($"the overlapped all-reduce is unavailable: {Problem}");

    /// <summary>
    /// Hooks <paramref name="parameters"/> (TorchSharp tensor handles; parameter i reports i to <paramref name="ready"/>,
    /// which must stay alive until <see cref="Destroy"/>) and prepares <paramref name="buckets"/> launches on
    /// <paramref name="device"/> with NCCL's <paramref name="allReduce"/> entry point and communicator.
    /// </summary>
    public static IntPtr Create(int device, IntPtr allReduce, IntPtr comm, ReadyFn ready, IntPtr[] parameters, int buckets)
    {
        Check(A.Create(device, allReduce, comm, Marshal.GetFunctionPointerForDelegate(ready), parameters.Length, parameters, buckets, out var handle));
        return handle;
    }

    /// <summary>Removes the hooks and frees the events.</summary>
    public static void Destroy(IntPtr handle) => A.Destroy(handle);

    /// <summary>Queues the average over the workers of <paramref name="count"/> floats at <paramref name="data"/>, after the calling thread's stream's work so far.</summary>
    public static void Launch(IntPtr handle, int bucket, IntPtr data, long count) => Check(A.Launch(handle, bucket, data, count));

    /// <summary>Makes the calling thread's current stream wait for every all-reduce launched so far.</summary>
    public static void Join(IntPtr handle) => Check(A.Join(handle));

    static void Check(int status)
    {
        if (status != 0) throw new InvalidOperationException($"overlapped all-reduce: {Marshal.PtrToStringUTF8(A.LastError())?.Split('\n')[0]}");
    }

    static Api? Load()
    {
        try
        {
            var (h, _) = TorchCudaShim.Compile("ddp_overlap.cpp", "libukan_ddpoverlap.so");
            T F<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(h, name));
            return new Api
            {
                Create = F<CreateFn>("ukan_overlap_create"), Destroy = F<DestroyFn>("ukan_overlap_destroy"),
                Launch = F<LaunchFn>("ukan_overlap_launch"), Join = F<JoinFn>("ukan_overlap_join"),
                LastError = F<ErrorFn>("ukan_overlap_last_error"),
            };
        }
        catch (Exception e) { Problem = e.Message.Split('\n')[0]; return null; }
    }
}
