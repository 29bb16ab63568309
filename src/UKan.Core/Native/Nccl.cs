using System.Runtime.InteropServices;

namespace UKan.Native;

/// <summary>
/// NCCL (NVIDIA's collective communication library, the engine under torch.distributed's "nccl" backend) reached
/// through P/Invoke: the few entry points data-parallel training needs (unique id, communicator, all-reduce,
/// broadcast). The library is the <c>libnccl.so.2</c> that the installed PyTorch ships in its nvidia-nccl wheel
/// (<c>site-packages/nvidia/nccl/lib</c>, next to <c>site-packages/torch/lib</c>), found the way libtorch is found;
/// <c>UKAN_NCCL</c> names another file. Signatures and enum values are those of nccl.h (NCCL 2.x).
/// </summary>
public static class Nccl
{
    public const string EnvironmentVariable = "UKAN_NCCL";
    /// <summary>Bytes of an ncclUniqueId (NCCL_UNIQUE_ID_BYTES).</summary>
    public const int UniqueIdBytes = 128;

    /// <summary>ncclDataType_t values used here.</summary>
    public enum DataType { Int64 = 4, Float32 = 7, Float64 = 8 }
    /// <summary>ncclRedOp_t (ncclAvg needs NCCL 2.10 or newer).</summary>
    public enum RedOp { Sum = 0, Prod = 1, Max = 2, Min = 3, Avg = 4 }

    [StructLayout(LayoutKind.Sequential)]
    public unsafe struct UniqueId { public fixed byte Bytes[UniqueIdBytes]; }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int GetVersionFn(out int version);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int GetUniqueIdFn(out UniqueId id);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int CommInitRankFn(out IntPtr comm, int nranks, UniqueId id, int rank);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int AllReduceFn(IntPtr send, IntPtr recv, nuint count, int type, int op, IntPtr comm, IntPtr stream);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int BroadcastFn(IntPtr send, IntPtr recv, nuint count, int type, int root, IntPtr comm, IntPtr stream);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int CommFn(IntPtr comm);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate int VoidFn();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr ErrorStringFn(int result);

    sealed class Api
    {
        public required string Path;
        public required int Version;
        public required GetUniqueIdFn GetUniqueId;
        public required CommInitRankFn CommInitRank;
        public required AllReduceFn AllReduce;
        public required IntPtr AllReduceAddress;
        public required BroadcastFn Broadcast;
        public required CommFn CommDestroy;
        public required VoidFn GroupStart, GroupEnd;
        public required ErrorStringFn ErrorString;
    }

    static readonly Lazy<Api?> api = new(Load);
    /// <summary>Why NCCL could not be loaded; null when it was (or was not tried yet).</summary>
    public static string? Problem { get; private set; }
    public static bool Available => api.Value is not null;
    /// <summary>The file loaded, or null.</summary>
    public static string? LoadedPath => api.Value?.Path;
    /// <summary>NCCL's version as "2.27.3", or null.</summary>
    public static string? Version => api.Value is { } a ? $"{a.Version / 10000}.{a.Version / 100 % 100}.{a.Version % 100}" : null;
    static Api A => api.Value ?? throw new UserError($"NCCL is unavailable: {Problem}; multi-GPU training needs the libnccl.so.2 of a PyTorch install (or set {EnvironmentVariable}).");

    /// <summary>
    /// Candidate files, in order: UKAN_NCCL; the nvidia-nccl wheel beside the libtorch in use (pip layout:
    /// site-packages/torch/lib and site-packages/nvidia/nccl/lib); a libnccl inside that lib folder (some builds
    /// bundle it); then the system's (the dynamic loader's search).
    /// </summary>
    public static IEnumerable<string> Candidates(string? torchLib, Func<string, string?> env)
    {
        if (env(EnvironmentVariable) is { Length: > 0 } named) yield return Path.GetFullPath(named);
        if (torchLib is { Length: > 0 })
        {
            yield return Path.GetFullPath(Path.Combine(torchLib, "..", "..", "nvidia", "nccl", "lib", "libnccl.so.2"));
            yield return Path.Combine(torchLib, "libnccl.so.2");
        }
        yield return "libnccl.so.2";
    }

    static Api? Load()
    {
        try
        {
            var torchLib = TorchRuntime.IsInitialized ? TorchRuntime.Current.LibTorch.Path : null;
            string? tried = null;
            foreach (var candidate in Candidates(torchLib, Environment.GetEnvironmentVariable))
            {
                bool byName = !Path.IsPathRooted(candidate);
                if (!byName && !File.Exists(candidate))
                {
                    if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } && tried is null)
                    {
                        Problem = $"{EnvironmentVariable}={candidate}: no such file";
                        return null;
                    }
                    continue;
                }
                tried = candidate;
                if (!NativeLibrary.TryLoad(candidate, out var h)) continue;
                T F<T>(string name) where T : Delegate => Marshal.GetDelegateForFunctionPointer<T>(NativeLibrary.GetExport(h, name));
                F<GetVersionFn>("ncclGetVersion")(out int version);
                return new Api
                {
                    Path = byName ? candidate + " (system)" : candidate, Version = version,
                    GetUniqueId = F<GetUniqueIdFn>("ncclGetUniqueId"), CommInitRank = F<CommInitRankFn>("ncclCommInitRank"),
                    AllReduce = F<AllReduceFn>("ncclAllReduce"), AllReduceAddress = NativeLibrary.GetExport(h, "ncclAllReduce"),
                    Broadcast = F<BroadcastFn>("ncclBroadcast"),
                    CommDestroy = F<CommFn>("ncclCommDestroy"), GroupStart = F<VoidFn>("ncclGroupStart"), GroupEnd = F<VoidFn>("ncclGroupEnd"),
                    ErrorString = F<ErrorStringFn>("ncclGetErrorString"),
                };
            }
            Problem = tried is null ? "libnccl.so.2 not found (no PyTorch nvidia-nccl package beside the libtorch in use)" : $"{tried} could not be loaded";
            return null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException or BadImageFormatException)
        {
            Problem = e.Message.Split('\n')[0];
            return null;
        }
    }

    static void Check(int result, string what)
    {
        if (result != 0) throw new InvalidOperationException($"NCCL {what} failed: {Marshal.PtrToStringUTF8(A.ErrorString(result))} (ncclResult {result})");
    }

    /// <summary>
    /// A new unique id as hex. The process that makes it runs NCCL's bootstrap root (a listening thread) and must live
    /// until every rank has called <see cref="CommInitRank"/>: the supervising parent makes it.
    /// </summary>
    public static unsafe string NewUniqueId()
    {
        Check(A.GetUniqueId(out var id), "ncclGetUniqueId");
        return Convert.ToHexString(new ReadOnlySpan<byte>(id.Bytes, UniqueIdBytes));
    }

    /// <summary>Joins the communicator of <paramref name="world"/> ranks on the calling thread's current CUDA device; blocks until all have joined.</summary>
    public static unsafe IntPtr CommInitRank(string hexId, int rank, int world)
    {
        var bytes = Convert.FromHexString(hexId);
        if (bytes.Length != UniqueIdBytes) throw new ArgumentException($"an NCCL unique id has {UniqueIdBytes} bytes, got {bytes.Length}");
        var id = new UniqueId();
        for (int i = 0; i < UniqueIdBytes; i++) id.Bytes[i] = bytes[i];
        Check(A.CommInitRank(out var comm, world, id, rank), "ncclCommInitRank");
        return comm;
    }

    public static void AllReduce(IntPtr buffer, long count, DataType type, RedOp op, IntPtr comm, IntPtr stream) =>
        Check(A.AllReduce(buffer, buffer, (nuint)count, (int)type, (int)op, comm, stream), "ncclAllReduce");

    /// <summary>The address of ncclAllReduce, for native code that queues all-reduces itself (<see cref="OverlapShim"/>).</summary>
    public static IntPtr AllReduceAddress => A.AllReduceAddress;

    public static void Broadcast(IntPtr buffer, long count, DataType type, int root, IntPtr comm, IntPtr stream) =>
        Check(A.Broadcast(buffer, buffer, (nuint)count, (int)type, root, comm, stream), "ncclBroadcast");

    public static void GroupStart() => Check(A.GroupStart(), "ncclGroupStart");
    public static void GroupEnd() => Check(A.GroupEnd(), "ncclGroupEnd");
    public static void CommDestroy(IntPtr comm) => Check(A.CommDestroy(comm), "ncclCommDestroy");
}
