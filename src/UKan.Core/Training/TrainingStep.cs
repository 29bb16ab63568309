using TorchSharp;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// One training step as training runs it, for the trainer and the benchmark alike: forward, loss (BCE + Dice),
/// backward into the optimizer's flat gradient buffers (<see cref="Backward"/>: gathered after backward, or
/// accumulated during it), Adam over the official parameter groups, and the batch's loss and pooled IoU added
/// to device-side sums that are read once per epoch (no host synchronisation inside an epoch). On a GPU with the
/// libtorch shim the step is recorded once as a CUDA graph and replayed; the first step of every process runs
/// eagerly, because it creates the cuBLAS and cuDNN handles and workspaces, which cannot be allocated during a
/// capture. The caller fills <see cref="Images"/> and <see cref="Targets"/> (fixed addresses: a graph replays on
/// them) before each <see cref="Run"/>, and must have entered a <see cref="SideStreamScope"/> before the model's
/// first forward pass when graphs are used.
/// </summary>
public sealed class TrainingStep : IDisposable
{
    readonly nn.Module<Tensor, Tensor> model;
    readonly FlatAdam optimizer;
    readonly nn.Module<Tensor, Tensor, Tensor> loss;
    readonly Tensor lossSum, iouSum, lastLoss, scoreCounts;
    readonly UKan.Training.Distributed.GradientReducer? reducer;
    readonly CudaGraph? graph;
    readonly bool gather;
    bool warmedUp, captured;

    /// <summary>Input batch (B, C, H, W), channels-last in memory when asked for.</summary>
    public Tensor Images { get; }
    /// <summary>Target batch (B, classes, H, W).</summary>
    public Tensor Targets { get; }
    public bool Graphs => graph is not null;
    /// <summary>Whether backward's gradients are gathered into the flat buffers (else accumulated there: <see cref="FlatAdam"/>).</summary>
    public bool GathersGradients => gather;
    /// <summary>Steps run since the sums were last reset.</summary>
    public int StepsSinceReset { get; private set; }

    readonly UKan.Models.SegmentationLoss output;

    /// <param name="output">How outputs are read for the training IoU (sigmoid per channel, or softmax).</param>
    /// <param name="gatherGradients">Gather or accumulate the gradients; null (the default): <see cref="GathersWith"/>.</param>
    public TrainingStep(nn.Module<Tensor, Tensor> model, FlatAdam optimizer, nn.Module<Tensor, Tensor, Tensor> loss,
        int batch, int channels, int classes, int height, int width, Device device, bool graphs, bool channelsLast,
        UKan.Models.SegmentationLoss output = UKan.Models.SegmentationLoss.BceDice, UKan.Training.Distributed.GradientReducer? reducer = null,
        bool? gatherGradients = null)
    {
        this.output = output;
        (this.model, this.optimizer, this.loss, this.reducer) = (model, optimizer, loss, reducer);
        gather = gatherGradients ?? GathersWith(reducer);
        Images = InputBuffer(batch, channels, height, width, device, channelsLast);
        Targets = zeros(batch, classes, height, width, device: device);
        lossSum = zeros(1, device: device);
        iouSum = zeros(1, device: device);
        lastLoss = zeros(1, device: device);
        scoreCounts = zeros(3, dtype: int64, device: device);   // StepScores' kernel works in them and leaves them at zero
        graph = graphs && device.type == DeviceType.CUDA && TorchCudaShim.Available ? new CudaGraph() : null;
    }

    /// <summary>A zeroed (B, C, H, W) input batch; with <paramref name="channelsLast"/> laid out (B, H, W, C) in memory, as cuDNN's NHWC kernels want it.</summary>
    public static Tensor InputBuffer(int batch, int channels, int height, int width, Device device, bool channelsLast) =>
        channelsLast
            ? zeros(batch, height, width, channels, device: device).permute(0, 3, 1, 2)
            : zeros(batch, channels, height, width, device: device);

    /// <summary>
    /// One step on the current contents of <see cref="Images"/> and <see cref="Targets"/>. <paramref name="prepare"/>,
    /// when given, fills them first and becomes part of the graph (it must then read only fixed-address device
    /// tensors and be the same work at every call): the device data path's augmentation runs inside the replay.
    /// </summary>
    public void Run(Action? prepare = null)
    {
        void Work()
        {
            prepare?.Invoke();
            Eager();
        }
        if (graph is null || !warmedUp)
        {
            Work();
            warmedUp = true;
        }
        else
        {
            if (!captured) { graph.Capture(Work, warmup: 0); captured = true; }
            graph.Replay();
        }
        StepsSinceReset++;
    }

    void Eager()
    {
        using var scope = NewDisposeScope();
        // Deep supervision: the mean loss over the network's outputs, the final output scored (ModelLoss).
        var (l, logits) = UKan.Losses.ModelLoss.Of(model, loss, Images, Targets);
        Backward(l, optimizer, gather, reducer);
        optimizer.Step();
        // The batch's loss and pooled IoU added to the epoch's sums on the device (one kernel on the GPU).
        StepScores.Add(logits, Targets, l, output, lastLoss, lossSum, iouSum, scoreCounts);
    }

    /// <summary>
    /// Whether a training step with <paramref name="reducer"/> (or none) gathers its gradients: accumulated where the
    /// reducer's all-reduce overlaps backward (its hooks read the flat buffers during backward), else by default
    /// gathered (<see cref="FlatAdam.ShouldGather(bool)"/>).
    /// </summary>
    public static bool GathersWith(UKan.Training.Distributed.GradientReducer? reducer) =>
        FlatAdam.ShouldGather(accumulationHooked: reducer?.Overlapped == true);

    /// <summary>
    /// Backward of <paramref name="loss"/> into <paramref name="optimizer"/>'s flat gradient buffers, as a step runs it
    /// (the start-up warm-up too): zeroed, then filled by backward (accumulated) or gathered after it; with a
    /// <paramref name="reducer"/>, averaged over the workers, started during backward where the overlap is on (the
    /// streams' fork and join are recorded in the graph with the rest of the step). In a CUDA graph capture, releasing
    /// and re-pointing the gradients are host-only; the gradients backward computes come from the graph's memory pool
    /// and the gather's copies are recorded, so every replay refills the same flat buffers.
    /// </summary>
    internal static void Backward(Tensor loss, FlatAdam optimizer, bool gather, UKan.Training.Distributed.GradientReducer? reducer = null)
    {
        if (gather) optimizer.ReleaseGrads();
        else optimizer.ZeroGrad();
        reducer?.BeginBackward();
        loss.backward();
        optimizer.GatherGrads();
        reducer?.AverageGradients();
    }

    public void ResetSums()
    {
        lossSum.zero_();
        iouSum.zero_();
        StepsSinceReset = 0;
    }

    /// <summary>The loss of the last step (a copy, on the device).</summary>
    public Tensor LastLoss() => lastLoss.clone();

    /// <summary>Replaces the loss and IoU sums by their means over the workers of a data-parallel run (every worker ran as many steps).</summary>
    public void AverageSums(UKan.Training.Distributed.ICollectives collectives)
    {
        using var scope = NewDisposeScope();
        var both = cat([lossSum, iouSum]);
        collectives.AllReduce(both, UKan.Training.Distributed.ReduceOp.Average);
        lossSum.copy_(both[0..1]);
        iouSum.copy_(both[1..2]);
    }

    /// <summary>Mean loss and mean pooled IoU of the steps since the last reset (one device synchronisation).</summary>
    public (double Loss, double Iou) ReadMeans()
    {
        using var scope = NewDisposeScope();
        var both = cat([lossSum, iouSum]).cpu().data<float>().ToArray();
        int n = Math.Max(1, StepsSinceReset);
        return ((double)both[0] / n, (double)both[1] / n);
    }

    /// <summary>Also disposes the reducer given to the constructor.</summary>
    public void Dispose()
    {
        graph?.Dispose();
        reducer?.Dispose();
        Images.Dispose();
        Targets.Dispose();
        lossSum.Dispose();
        iouSum.Dispose();
        lastLoss.Dispose();
        scoreCounts.Dispose();
    }
}
