using TorchSharp;
using TorchSharp.Modules;

namespace UKan.Training;

/// <summary>One optimizer parameter group: its own learning rate and weight decay.</summary>
public sealed record GroupSettings(string Name, double LearningRate, double WeightDecay);

/// <summary>
/// U-KAN's two parameter groups (Seg_UKAN/train.py): a parameter whose name contains both "layer" and "fc"
/// (case-insensitive) is a KAN weight of a tokenized block (<c>block1.0.layer.fc1.spline_weight</c>, ...) and trains at
/// kan_lr = 1e-2; everything else at lr = 1e-4; weight decay 1e-4 for both. The same rule puts ALL U-KAN's
/// tokenized KA layers in the fast group (docs/allukan.md §R.8).
/// </summary>
public static class ParameterGroups
{
    public static bool IsKanWeight(string parameterName)
    {
        var n = parameterName.ToLowerInvariant();
        return n.Contains("layer") && n.Contains("fc");
    }

    /// <summary>Splits named parameters into the kan and base groups (empty groups are dropped).</summary>
    public static IReadOnlyList<(GroupSettings Settings, IReadOnlyList<(string Name, Parameter Parameter)> Members)> Official(
        IEnumerable<(string Name, Parameter Parameter)> parameters,
        double lr = 1e-4, double weightDecay = 1e-4, double kanLr = 1e-2, double kanWeightDecay = 1e-4)
    {
        var all = parameters.Where(p => p.Parameter.requires_grad).ToList();
        var groups = new List<(GroupSettings, IReadOnlyList<(string, Parameter)>)>();
        var kan = all.Where(p => IsKanWeight(p.Name)).ToList();
        var rest = all.Where(p => !IsKanWeight(p.Name)).ToList();
        if (kan.Count > 0) groups.Add((new GroupSettings("kan", kanLr, kanWeightDecay), kan));
        if (rest.Count > 0) groups.Add((new GroupSettings("base", lr, weightDecay), rest));
        return groups;
    }
}
