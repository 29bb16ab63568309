using TorchSharp;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// <see cref="ICollectives"/> over NCCL, one communicator per worker process (one GPU each). Every call is queued on
/// the worker's current CUDA stream (<see cref="TorchCudaShim.CurrentStream"/>; the legacy default stream where the
/// shim is unavailable, which is then torch's current stream too), so it runs in order with torch's kernels, needs
/// no host synchronisation, and can be recorded in a CUDA graph (NCCL supports stream capture).
/// </summary>
public sealed class NcclCollectives : ICollectives
{
    IntPtr comm;
    readonly int device;
    readonly Tensor barrierFlag;

    public int Rank { get; }
    public int WorldSize { get; }
    public string Describe => $"nccl {Nccl.Version} ({Nccl.LoadedPath})";
    /// <summary>The ncclComm_t, for native code that queues collectives itself (<see cref="OverlappedReduction"/>).</summary>
    internal IntPtr Communicator => comm;

    /// <summary>Joins the communicator named by <paramref name="hexId"/> (made by the parent with <see cref="Nccl.NewUniqueId"/>); blocks until every rank joined.</summary>
    public NcclCollectives(string hexId, int rank, int worldSize, int device)
    {
        (Rank, WorldSize, this.device) = (rank, worldSize, device);
        comm = Nccl.CommInitRank(hexId, rank, worldSize);
        barrierFlag = zeros(1, device: new Device(DeviceType.CUDA, device));
    }

    IntPtr Stream => TorchCudaShim.Available ? TorchCudaShim.CurrentStream(device) : IntPtr.Zero;

    static Nccl.DataType TypeOf(Tensor t) => t.dtype switch
    {
        ScalarType.Float32 => Nccl.DataType.Float32,
        _ => throw new ArgumentException($"collectives take float32 buffers, got {t.dtype}"),
    };

    static void CheckBuffer(Tensor t)
    {
        if (t.device_type != DeviceType.CUDA || !t.is_contiguous())
            throw new ArgumentException("NCCL buffers must be contiguous CUDA tensors");
    }

    public void AllReduce(Tensor buffer, ReduceOp op)
    {
        CheckBuffer(buffer);
        var red = op switch { ReduceOp.Sum => Nccl.RedOp.Sum, ReduceOp.Average => Nccl.RedOp.Avg, _ => Nccl.RedOp.Max };
        Nccl.AllReduce(TensorPointer.Of(buffer), buffer.numel(), TypeOf(buffer), red, comm, Stream);
    }

    public void Broadcast(Tensor buffer, int root = 0)
    {
        CheckBuffer(buffer);
        Nccl.Broadcast(TensorPointer.Of(buffer), buffer.numel(), TypeOf(buffer), root, comm, Stream);
    }

    /// <summary>An all-reduce of one value, then a wait for the stream: the host returns once every GPU got there.</summary>
    public void Barrier()
    {
        AllReduce(barrierFlag, ReduceOp.Sum);
        using var host = barrierFlag.cpu();
    }

    public void Dispose()
    {
        if (comm != IntPtr.Zero) { Nccl.CommDestroy(comm); comm = IntPtr.Zero; }
        barrierFlag.Dispose();
    }
}
