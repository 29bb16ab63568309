using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace UKan.Data;

/// <summary>
/// What a run was trained on, saved in its folder (dataset_fingerprint.json, as nnU-Net keeps a dataset fingerprint):
/// sample and class counts, the range of image sizes, the mean foreground share per class, and a content hash over
/// every sample's image and mask bytes in id order. A resumed run compares the hash to notice data that changed
/// under it.
/// </summary>
public sealed record DatasetFingerprint(
    int Images, int Classes, int MinWidth, int MaxWidth, int MinHeight, int MaxHeight, int DistinctSizes,
    double[] ForegroundMean, string ContentHash)
{
    /// <summary>The fingerprint of a checked dataset (<paramref name="report"/> from <see cref="DataCheck.Run"/>).</summary>
    public static DatasetFingerprint Of(DataCheckReport report, SegmentationFolder folder)
    {
        var hash = new XxHash3();
        foreach (var id in folder.Ids.Order(StringComparer.Ordinal))
        {
            hash.Append(Encoding.UTF8.GetBytes(id + "\n"));
            hash.Append(File.ReadAllBytes(folder.ImagePath(id)));
            for (int c = 0; c < folder.MaskFiles; c++) hash.Append(File.ReadAllBytes(folder.MaskPath(id, c)));
        }
        var sizes = report.Sizes;
        return new DatasetFingerprint(report.Images, report.NumClasses,
            sizes.Count == 0 ? 0 : sizes.Min(s => s.Width), sizes.Count == 0 ? 0 : sizes.Max(s => s.Width),
            sizes.Count == 0 ? 0 : sizes.Min(s => s.Height), sizes.Count == 0 ? 0 : sizes.Max(s => s.Height), sizes.Count,
            report.ForegroundFractions.Select(f => f.Length == 0 ? 0 : f.Average()).ToArray(),
            Convert.ToHexStringLower(hash.GetCurrentHash()));
    }

    public string ToJson() => UKan.IO.JsonFiles.Serialize(this);

    /// <summary>Reads a saved fingerprint, or null when the file is missing or unreadable (older runs have none).</summary>
    public static DatasetFingerprint? TryLoad(string path)
    {
        try { return File.Exists(path) ? UKan.IO.JsonFiles.Deserialize<DatasetFingerprint>(File.ReadAllText(path)) : null; }
        catch (JsonException) { return null; }
    }

    /// <summary>How <paramref name="now"/> differs from this fingerprint, in a few words; null when the data are the same.</summary>
    public string? Difference(DatasetFingerprint now)
    {
        if (ContentHash == now.ContentHash) return null;
        return Images != now.Images ? $"{Images} samples then, {now.Images} now" : "the same samples, but image or mask files changed";
    }
}
