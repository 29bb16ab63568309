using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Training.Distributed;

/// <summary>
/// Batch norm over the global batch (PyTorch's SyncBatchNorm, <c>--sync-bn</c>) for the BatchNorm2d layers of a
/// model, without changing the model: in training mode a forward hook replaces each layer's output by the
/// normalisation with the mean and variance of the whole global batch, and updates the running statistics with
/// them. Eval mode is untouched. The statistics are made differentiable across workers (<see cref="AllReduceFunction"/>),
/// so the gradients are those of one process on the concatenated batch, not an approximation.
/// </summary>
/// <remarks>
/// Two all-reduces per layer and pass: Σx for the mean, then Σ(x − mean)² for the biased variance (two passes, as
/// numerically safe as the one-process kernel; E[x²] − mean² would cancel badly). The running variance takes the
/// unbiased estimate (·n/(n−1)), as nn.BatchNorm2d. Every worker must bring the same number of samples (true for
/// training batches: the sampler gives each the same batch size). The layer's own forward still runs, in eval mode
/// (its output is dropped): the cost of keeping the model's classes unchanged.
/// </remarks>
public static class SyncBatchNorm
{
    /// <summary>Attaches the hooks to every BatchNorm2d of <paramref name="model"/>; the count of layers found.</summary>
    public static int Attach(nn.Module model, ICollectives collectives)
    {
        int found = 0;
        foreach (var (_, module) in model.named_modules())
        {
            if (module is not BatchNorm2d bn) continue;
            found++;
            UKan.Layers.BatchNormRelu.Exclude(bn);   // the fused batch norm + ReLU would skip these hooks
            bool swapped = false;
            bn.register_forward_pre_hook((m, input) =>
            {
                swapped = m.training;
                if (swapped) m.eval();
                return input;
            });
            bn.register_forward_hook((m, input, output) =>
            {
                if (!swapped) return output;
                swapped = false;
                m.train();
                return Forward(bn, input, collectives);
            });
        }
        return found;
    }

    /// <summary>The training-mode forward of <paramref name="bn"/> on the global batch of which <paramref name="x"/> is this worker's part.</summary>
    public static Tensor Forward(BatchNorm2d bn, Tensor x, ICollectives collectives)
    {
        long channels = x.shape[1];
        long n = x.numel() / channels * collectives.WorldSize;
        var input = x.dtype == ScalarType.Float32 ? x : x.to(float32);
        long[] dims = [0, 2, 3];
        var mean = AllReduceFunction.Sum(input.sum(dims), collectives) / n;
        var centred = input - mean.view(1, channels, 1, 1);
        var variance = AllReduceFunction.Sum(centred.square().sum(dims), collectives) / n;
        var y = centred * (variance + bn.eps).rsqrt().view(1, channels, 1, 1);
        if (bn.weight is { } w) y = y * w.view(1, channels, 1, 1);
        if (bn.bias is { } b) y = y + b.view(1, channels, 1, 1);
        using (no_grad())
        {
            double momentum = bn.momentum ?? throw new NotSupportedException("synchronised batch norm needs a momentum (a cumulative average is not supported)");
            bn.running_mean?.mul_(1 - momentum).add_(mean.detach(), alpha: momentum);
            bn.running_var?.mul_(1 - momentum).add_(variance.detach() * (n / (double)Math.Max(1, n - 1)), alpha: momentum);
            bn.num_batches_tracked?.add_(1);
        }
        return y;
    }
}
