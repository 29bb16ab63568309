using System.Net;

namespace UKan.Training.Distributed;

/// <summary>
/// What a supervising <c>ukan train --gpus N</c> tells each worker process it starts, through environment variables
/// (as torchrun's RANK / WORLD_SIZE / MASTER_ADDR): the worker's rank, the number of workers, where they meet
/// ("nccl:" and the hex NCCL unique id the parent made, or "tcp:" and a loopback address for CPU workers) and the
/// device kind. A GPU worker sees only its own GPU (CUDA_VISIBLE_DEVICES), as device 0.
/// </summary>
public sealed record WorkerEnvironment(int Rank, int WorldSize, string Rendezvous, bool Cuda)
{
    public const string RankVariable = "UKAN_DIST_RANK";
    public const string WorldSizeVariable = "UKAN_DIST_WORLD_SIZE";
    public const string RendezvousVariable = "UKAN_DIST_RENDEZVOUS";
    public const string DeviceVariable = "UKAN_DIST_DEVICE";

    /// <summary>This process's worker settings, or null when it is not a worker.</summary>
    public static WorkerEnvironment? Current() => From(Environment.GetEnvironmentVariable);

    public static WorkerEnvironment? From(Func<string, string?> env)
    {
        if (env(RankVariable) is not { Length: > 0 } rankText) return null;
        if (!int.TryParse(rankText, out int rank) || !int.TryParse(env(WorldSizeVariable), out int world) || rank < 0 || rank >= world
            || env(RendezvousVariable) is not { Length: > 0 } rendezvous)
            throw new UserError($"{RankVariable}={rankText}: a worker needs {WorldSizeVariable} above its rank and {RendezvousVariable}; these are set by 'ukan train --gpus N', not by hand.");
        return new WorkerEnvironment(rank, world, rendezvous, env(DeviceVariable) == "cuda");
    }

    /// <summary>The variables that make a process this worker (its rank, the world size, the rendezvous, the device).</summary>
    public IEnumerable<KeyValuePair<string, string>> Variables()
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        yield return new(RankVariable, Rank.ToString(inv));
        yield return new(WorldSizeVariable, WorldSize.ToString(inv));
        yield return new(RendezvousVariable, Rendezvous);
        yield return new(DeviceVariable, Cuda ? "cuda" : "cpu");
    }

    /// <summary>Joins the other workers (blocks until all have joined).</summary>
    public ICollectives Connect()
    {
        if (Rendezvous.StartsWith("nccl:", StringComparison.Ordinal))
            return new NcclCollectives(Rendezvous["nccl:".Length..], Rank, WorldSize, device: 0);
        if (Rendezvous.StartsWith("tcp:", StringComparison.Ordinal) && IPEndPoint.TryParse(Rendezvous["tcp:".Length..], out var endpoint))
            return new TcpCollectives(endpoint, Rank, WorldSize);
        throw new UserError($"{RendezvousVariable}={Rendezvous}: expected nccl:<hex id> or tcp:<address>:<port>.");
    }
}
