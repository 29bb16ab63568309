using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// Host copies of a model's state dict and its optimizer's moments at one moment of training
/// (<see cref="TrainingCheckpoint.Take"/>): written as a training checkpoint, as exported weights, or both, on any thread.
/// </summary>
public sealed class CheckpointSnapshot(IReadOnlyList<(string Name, Tensor Value)> weights,
    IReadOnlyList<(string Name, Tensor Value)> moments, TrainingCheckpoint.State state) : IDisposable
{
    public TrainingCheckpoint.State State => state;

    /// <summary>
    /// The training checkpoint: weights under "model.", the optimizer's moments (unless <paramref name="withOptimizer"/>
    /// is false: such a file gives the model but cannot be resumed), the state as metadata.
    /// </summary>
    public void Write(string path, bool withOptimizer = true) =>
        UKan.Checkpoints.SafeTensors.Write(path, weights.Select(w => ("model." + w.Name, w.Value)).Concat(withOptimizer ? moments : []),
            TrainingCheckpoint.Metadata(state));

    /// <summary>The weights alone under the official names (<see cref="ModelExport"/>).</summary>
    public void WriteWeights(string path, string? note) => ModelExport.Save(path, weights, state.Spec, note);

    public void Dispose()
    {
        foreach (var (_, t) in weights.Concat(moments)) t.Dispose();
    }
}
