using TorchSharp;
using UKan.Evaluation;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// The forward passes of validation: per batch, the loss and the per-image confusion counts, left on the device.
/// With graphs (CUDA and the libtorch shim) each batch size gets one CUDA graph, captured at its second use (the first
/// runs eagerly: cuDNN autotunes the eval-mode shapes then) and replayed afterwards on copies of the inputs; eager
/// inference of this model is bound by kernel launches, a replay is not. The graphs read the live weights and batch
/// norm statistics, which training updates in place. The model must be in eval mode, under no_grad, inside the
/// trainer's side stream.
/// </summary>
/// <param name="output">How outputs are read; the counts are per scored class (<see cref="ClassMasks"/>), class-major.</param>
public sealed class ValidationPass(nn.Module<Tensor, Tensor> model, nn.Module<Tensor, Tensor, Tensor> loss, bool graphs,
    UKan.Models.SegmentationLoss output = UKan.Models.SegmentationLoss.BceDice) : IDisposable
{
    sealed record Captured(CudaGraph Graph, Tensor Images, Tensor Targets, Tensor Loss, Tensor Counts);

    readonly Dictionary<long, Captured> captured = new();
    readonly HashSet<long> warmed = new();
    readonly bool graphs = graphs && TorchCudaShim.Available;

    /// <summary>Loss (scalar, float32) and (classes·B, 4) counts (class-major: the B images of class 0 first) of one batch, owned by the caller's dispose scope.</summary>
    public (Tensor Loss, Tensor Counts) Run(Tensor images, Tensor targets)
    {
        long n = images.shape[0];
        if (!graphs || images.device_type != DeviceType.CUDA || warmed.Add(n)) return Eager(images, targets);
        if (!captured.TryGetValue(n, out var c))
        {
            // The graph's own inputs live as long as the graph, not as long as the caller's dispose scope.
            var x = empty_like(images).DetachFromDisposeScope();   // keeps the layout (channels-last or not) of the batches
            var t = empty_like(targets).DetachFromDisposeScope();
            x.copy_(images);
            t.copy_(targets);
            var graph = new CudaGraph();
            Tensor l = null!, k = null!;
            graph.Capture(() =>
            {
                var (a, b) = Eager(x, t);
                (l, k) = (a.DetachFromDisposeScope(), b.DetachFromDisposeScope());
            }, warmup: 0);
            captured[n] = c = new Captured(graph, x, t, l, k);
        }
        else
        {
            c.Images.copy_(images);
            c.Targets.copy_(targets);
        }
        c.Graph.Replay();
        return (c.Loss.clone(), c.Counts.clone());
    }

    (Tensor Loss, Tensor Counts) Eager(Tensor images, Tensor targets)
    {
        var (l, logits) = UKan.Losses.ModelLoss.Of(model, loss, images, targets);
        var counts = ClassMasks.Split(logits, targets, output).Select(c => TensorMasks.CountsPerImage(c.Logits, c.Target)).ToList();
        return (l, counts.Count == 1 ? counts[0] : cat(counts, 0));
    }

    public void Dispose()
    {
        foreach (var c in captured.Values)
        {
            c.Graph.Dispose();
            foreach (var t in new[] { c.Images, c.Targets, c.Loss, c.Counts }) t.Dispose();
        }
        captured.Clear();
    }
}
