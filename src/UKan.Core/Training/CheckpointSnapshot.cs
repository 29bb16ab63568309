using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// Host copies of a model's state dict and its optimizer's moments at one moment of training
/// (<see cref="TrainingCheckpoint.Take"/>): written as a training checkpoint, as exported weights, or both, on any thread.
/// A snapshot taken without a segmentation <see cref="State"/> (the diffusion trainer's) is written with its own metadata.
/// </summary>
public sealed class CheckpointSnapshot(IReadOnlyList<(string Name, Tensor Value)> weights,
    IReadOnlyList<(string Name, Tensor Value)> moments, TrainingCheckpoint.State? state) : IDisposable
{
    public TrainingCheckpoint.State State =>
        state ?? throw new InvalidOperationException("this snapshot was taken without a segmentation state");

    /// <summary>
    /// The training checkpoint: weights under "model.", the optimizer's moments (unless <paramref name="withOptimizer"/>
    /// is false: such a file gives the model but cannot be resumed), the state as metadata.
    /// </summary>
    public void Write(string path, bool withOptimizer = true) => Write(path, TrainingCheckpoint.Metadata(State), withOptimizer);

    /// <summary>
    /// The snapshot with the given metadata: weights under <paramref name="weightPrefix"/> ("model." in a checkpoint,
    /// "" for weights alone), then the optimizer's moments unless <paramref name="withOptimizer"/> is false.
    /// </summary>
    public void Write(string path, IReadOnlyDictionary<string, string> metadata, bool withOptimizer = true, string weightPrefix = "model.") =>
        UKan.Checkpoints.SafeTensors.Write(path, weights.Select(w => (weightPrefix + w.Name, w.Value)).Concat(withOptimizer ? moments : []),
            metadata);

    /// <summary>The weights alone under the official names (<see cref="ModelExport"/>).</summary>
    public void WriteWeights(string path, string? note) => ModelExport.Save(path, weights, State.Spec, note);

    public void Dispose()
    {
        foreach (var (_, t) in weights.Concat(moments)) t.Dispose();
    }
}
