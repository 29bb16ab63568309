using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// Multiply-accumulates of one forward call of a layer, from its input and output. Implemented by the project's
/// own layers; Conv2d and Linear are counted by <see cref="UKan.Models.ModelSummary"/> itself.
/// </summary>
public interface IMacCounter
{
    long CountMacs(Tensor input, Tensor output);
}
