using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// The collective operations data-parallel training needs, between the <see cref="WorldSize"/> workers of one run
/// (as torch.distributed's process group): every worker calls the same operations in the same order on tensors of
/// the same size. Buffers are flat (1-D, contiguous) and updated in place. Implementations: <see cref="NcclCollectives"/>
/// (GPUs, on the worker's current CUDA stream) and <see cref="TcpCollectives"/> (CPU workers over loopback sockets,
/// threads or processes: the tests and <c>--devices cpu,cpu</c>).
/// </summary>
public interface ICollectives : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }
    /// <summary>The backend, for messages ("nccl 2.27.3", "tcp 127.0.0.1:5000").</summary>
    string Describe { get; }

    /// <summary>Replaces <paramref name="buffer"/> on every worker by the element-wise reduction over all workers.</summary>
    void AllReduce(Tensor buffer, ReduceOp op);

    /// <summary>Replaces <paramref name="buffer"/> on every worker by rank <paramref name="root"/>'s.</summary>
    void Broadcast(Tensor buffer, int root = 0);

    /// <summary>Returns when every worker has reached it.</summary>
    void Barrier();
}
