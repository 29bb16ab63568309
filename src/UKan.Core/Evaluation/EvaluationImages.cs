using UKan.Data;

namespace UKan.Evaluation;

/// <summary>The images an evaluation scores: ids of a dataset folder, and in words where they came from.</summary>
public sealed record EvaluationImages(string Data, IReadOnlyList<string> Ids, string Source)
{
    /// <summary>
    /// The images of <paramref name="data"/> named by <paramref name="split"/>: the validation ids of a split.json,
    /// the test ids of a cross-validation splits.json, or every image when there is no split. <paramref name="labelMaps"/>:
    /// the folder holds label maps (softmax models) instead of one mask folder per class.
    /// </summary>
    public static EvaluationImages Select(string data, string? split, int classes = 1, bool labelMaps = false)
    {
        if (!Directory.Exists(data)) throw new UserError($"--data {data}: folder not found.");
        var folder = new SegmentationFolder(data, classes, labelMaps);
        if (split is null) return new EvaluationImages(Path.GetFullPath(data), folder.Ids, "all images");
        if (File.Exists(split) && CrossValidationSplit.IsOne(split))
        {
            var cv = CrossValidationSplit.Load(split, "--split");
            cv.CheckAgainst(folder.Ids, data);
            return new EvaluationImages(Path.GetFullPath(data), cv.Test, "test images of " + split);
        }
        var sp = DataSplit.Load(split);
        sp.CheckAgainst(folder.Ids, data);
        return new EvaluationImages(Path.GetFullPath(data), sp.Validation, "validation images of " + split);
    }

    /// <summary>Whether both name the same images of the same folder (in any order).</summary>
    public bool SameAs(EvaluationImages other) => Data == other.Data && SameIds(other);

    /// <summary>Whether both name the same image ids (in any order), whatever folder they are in.</summary>
    public bool SameIds(EvaluationImages other) => Ids.Count == other.Ids.Count && Ids.ToHashSet(StringComparer.Ordinal).SetEquals(other.Ids);
}
