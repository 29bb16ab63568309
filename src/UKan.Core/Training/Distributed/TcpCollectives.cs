using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// <see cref="ICollectives"/> for CPU workers (threads of one process or processes of one host) over TCP: rank 0
/// listens at the rendezvous address, the others connect to it (a star). A reduction gathers every buffer at rank 0,
/// combines them in rank order (so the result is the same on every worker and from run to run) and sends the result
/// back. Not fast, and not meant to be: it exists so that the data-parallel logic (sharding, broadcast, gradient
/// averaging, synchronised batch norm, stopping together) runs and is tested without GPUs.
/// </summary>
public sealed class TcpCollectives : ICollectives
{
    readonly NetworkStream[] peers;          // rank 0: one per other rank (index = rank); others: [0] = rank 0
    readonly List<IDisposable> owned = [];

    public int Rank { get; }
    public int WorldSize { get; }
    public string Describe { get; }

    /// <summary>How long the workers wait for each other at the start (a worker's start-up includes loading torch).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromMinutes(3);

    public TcpCollectives(IPEndPoint rendezvous, int rank, int worldSize)
    {
        (Rank, WorldSize, Describe) = (rank, worldSize, $"tcp {rendezvous}");
        peers = new NetworkStream[worldSize];
        if (worldSize == 1) return;
        var deadline = DateTime.UtcNow + ConnectTimeout;
        if (rank == 0)
        {
            var listener = new TcpListener(rendezvous);
            listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Start(worldSize);
            try
            {
                for (int joined = 1; joined < worldSize; joined++)
                {
                    var accept = listener.AcceptTcpClientAsync();
                    if (!accept.Wait(deadline - DateTime.UtcNow)) throw new TimeoutException($"only {joined} of {worldSize} workers reached {rendezvous}");
                    var client = accept.Result;
                    client.NoDelay = true;
                    owned.Add(client);
                    var stream = client.GetStream();
                    int other = ReadInt(stream);
                    if (other <= 0 || other >= worldSize || peers[other] is not null) throw new InvalidOperationException($"unexpected worker rank {other}");
                    peers[other] = stream;
                }
            }
            finally { listener.Stop(); }
        }
        else
        {
            while (true)
            {
                var client = new TcpClient { NoDelay = true };
                try
                {
                    client.Connect(rendezvous);
                    owned.Add(client);
                    peers[0] = client.GetStream();
                    WriteInt(peers[0], rank);
                    break;
                }
                catch (SocketException) when (DateTime.UtcNow < deadline)
                {
                    client.Dispose();
                    Thread.Sleep(100);   // rank 0 is not listening yet
                }
            }
        }
    }

    public void AllReduce(Tensor buffer, ReduceOp op)
    {
        if (WorldSize == 1) return;
        var values = Read(buffer);
        if (Rank == 0)
        {
            var other = new float[values.Length];
            for (int r = 1; r < WorldSize; r++)
            {
                ReadFloats(peers[r], other);
                for (int i = 0; i < values.Length; i++)
                    values[i] = op == ReduceOp.Max ? Math.Max(values[i], other[i]) : values[i] + other[i];
            }
            if (op == ReduceOp.Average)
                for (int i = 0; i < values.Length; i++) values[i] /= WorldSize;
            for (int r = 1; r < WorldSize; r++) WriteFloats(peers[r], values);
        }
        else
        {
            WriteFloats(peers[0], values);
            ReadFloats(peers[0], values);
        }
        Write(buffer, values);
    }

    public void Broadcast(Tensor buffer, int root = 0)
    {
        if (WorldSize == 1) return;
        if (root != 0) throw new NotSupportedException("the TCP backend broadcasts from rank 0 only");
        if (Rank == 0)
        {
            var values = Read(buffer);
            for (int r = 1; r < WorldSize; r++) WriteFloats(peers[r], values);
        }
        else
        {
            var values = new float[buffer.numel()];
            ReadFloats(peers[0], values);
            Write(buffer, values);
        }
    }

    public void Barrier()
    {
        using var flag = zeros(1);
        AllReduce(flag, ReduceOp.Sum);
    }

    static float[] Read(Tensor buffer)
    {
        if (buffer.dtype != ScalarType.Float32) throw new ArgumentException($"collectives take float32 buffers, got {buffer.dtype}");
        using var host = buffer.detach().cpu().contiguous();
        return host.data<float>().ToArray();
    }

    static void Write(Tensor buffer, float[] values)
    {
        using var _ = no_grad();
        using var host = tensor(values);
        buffer.copy_(host.view(buffer.shape));
    }

    static void WriteFloats(NetworkStream s, float[] values)
    {
        WriteInt(s, values.Length);
        s.Write(MemoryMarshal.AsBytes(values.AsSpan()));
    }

    static void ReadFloats(NetworkStream s, float[] into)
    {
        int n = ReadInt(s);
        if (n != into.Length) throw new InvalidOperationException($"workers disagree on a buffer's size ({n} vs {into.Length} values): they run different models or steps");
        s.ReadExactly(MemoryMarshal.AsBytes(into.AsSpan()));
    }

    static void WriteInt(NetworkStream s, int v) => s.Write(BitConverter.GetBytes(v));

    static int ReadInt(NetworkStream s)
    {
        Span<byte> b = stackalloc byte[4];
        s.ReadExactly(b);
        return BitConverter.ToInt32(b);
    }

    /// <summary>A loopback address with a port that was free a moment ago, for the workers of one run to meet at.</summary>
    public static IPEndPoint FreeLoopbackEndpoint()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var endpoint = (IPEndPoint)probe.LocalEndpoint;
        probe.Stop();
        return endpoint;
    }

    public void Dispose()
    {
        foreach (var o in owned) o.Dispose();
    }
}
