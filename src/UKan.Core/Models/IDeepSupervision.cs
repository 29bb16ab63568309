using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>
/// A network that can be trained with deep supervision (Lee et al., "Deeply-Supervised Nets", AISTATS 2015; as U-Net++
/// uses it, Zhou et al. 2018 §2): heads on intermediate features give extra outputs of the final output's shape, and
/// the training loss is the mean of the loss over all of them. <c>forward</c> returns only the final output, which is
/// what validation scores, inference predicts and exports carry; the loss step asks for the rest through
/// <see cref="Outputs"/> (<see cref="UKan.Losses.ModelLoss"/>), so nothing else needs to know.
/// </summary>
public interface IDeepSupervision
{
    /// <summary>Whether this network was built with its auxiliary heads; false: <see cref="Outputs"/> is the forward output alone.</summary>
    bool DeepSupervision { get; }

    /// <summary>Every output for <paramref name="x"/>, the one <c>forward</c> returns last.</summary>
    IReadOnlyList<Tensor> Outputs(Tensor x);
}
