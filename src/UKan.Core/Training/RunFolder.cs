using System.Globalization;
using System.Text;

namespace UKan.Training;

/// <summary>
/// The files of one training run, all written atomically: config.json, split.json, dataset_fingerprint.json, metrics.csv, TensorBoard events,
/// checkpoints/{last,best}.safetensors, model.safetensors (best weights under the official names), curves.png,
/// overlays_best.png and, after training, the evaluation of the best model. Diffusion runs use the same layout for
/// what they share (config.json, metrics.csv with their own columns, checkpoints/last.safetensors, model.safetensors)
/// and add samples/.
/// </summary>
public sealed class RunFolder(string root)
{
    public string Root { get; } = Path.GetFullPath(root);
    public string Config => Path.Combine(Root, "config.json");
    public string Split => Path.Combine(Root, "split.json");
    public string Fingerprint => Path.Combine(Root, "dataset_fingerprint.json");
    public string Metrics => Path.Combine(Root, "metrics.csv");
    public string Events => Path.Combine(Root, "events");
    public string Checkpoints => Path.Combine(Root, "checkpoints");
    public string Last => Path.Combine(Checkpoints, "last.safetensors");
    public string Best => Path.Combine(Checkpoints, "best.safetensors");
    public string ExportedModel => Path.Combine(Root, "model.safetensors");
    public string Curves => Path.Combine(Root, "curves.png");
    public string Overlays => Path.Combine(Root, "overlays_best.png");
    /// <summary>Diffusion runs: the sample grids, one PNG per sampling epoch.</summary>
    public string Samples => Path.Combine(Root, "samples");
    /// <summary>
    /// Where diffusion runs made before they shared this layout kept their checkpoint (the folder's root): read by
    /// <c>diffusion generate --weights</c>, moved to <see cref="Last"/> by <c>--resume</c>.
    /// </summary>
    public string OldDiffusionLast => Path.Combine(Root, "last.safetensors");

    public static readonly string MetricsHeader = "epoch,lr,kan_lr,loss,iou,val_loss,val_iou,val_dice,val_iou_per_image,val_dice_per_image,seconds,best";

    public void WriteMetrics(IReadOnlyList<EpochRecord> records)
    {
        var sb = new StringBuilder(MetricsHeader).Append('\n');
        static string F(double? v) => v is double d ? d.ToString("G9", CultureInfo.InvariantCulture) : "";
        foreach (var r in records)
            sb.Append(string.Join(',', r.Epoch, F(r.LrBase), F(r.LrKan), F(r.Loss), F(r.Iou), F(r.ValLoss), F(r.ValIou), F(r.ValDice),
                F(r.ValIouPerImage), F(r.ValDicePerImage), F(r.Seconds), r.Best ? 1 : 0)).Append('\n');
        AtomicFile.WriteAllText(Metrics, sb.ToString());
    }

    public List<EpochRecord> ReadMetrics()
    {
        var list = new List<EpochRecord>();
        if (!File.Exists(Metrics)) return list;
        static double? D(string s) => s.Length == 0 ? null : double.Parse(s, CultureInfo.InvariantCulture);
        foreach (var line in File.ReadLines(Metrics).Skip(1))
        {
            var c = line.Split(',');
            if (c.Length < 12) continue;
            list.Add(new EpochRecord(int.Parse(c[0], CultureInfo.InvariantCulture), D(c[1])!.Value, D(c[2])!.Value, D(c[3])!.Value, D(c[4])!.Value,
                D(c[5]), D(c[6]), D(c[7]), D(c[8]), D(c[9]), D(c[10])!.Value, c[11] == "1"));
        }
        return list;
    }
}
