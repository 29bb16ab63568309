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
    /// <summary>The run folder, as an absolute path.</summary>
    public string Root { get; } = Path.GetFullPath(root);
    /// <summary>config.json: the resolved <see cref="TrainConfig"/>.</summary>
    public string Config => Path.Combine(Root, "config.json");
    /// <summary>split.json: the training and validation image ids.</summary>
    public string Split => Path.Combine(Root, "split.json");
    /// <summary>dataset_fingerprint.json: counts, sizes and hashes of the data the run was trained on.</summary>
    public string Fingerprint => Path.Combine(Root, "dataset_fingerprint.json");
    /// <summary>metrics.csv: one <see cref="EpochRecord"/> per line.</summary>
    public string Metrics => Path.Combine(Root, "metrics.csv");
    /// <summary>events/: the same metrics for TensorBoard.</summary>
    public string Events => Path.Combine(Root, "events");
    /// <summary>checkpoints/: the training checkpoints.</summary>
    public string Checkpoints => Path.Combine(Root, "checkpoints");
    /// <summary>checkpoints/last.safetensors: model and optimizer state after the last finished epoch (for resuming).</summary>
    public string Last => Path.Combine(Checkpoints, "last.safetensors");
    /// <summary>checkpoints/best.safetensors: the checkpoint of the best validation epoch.</summary>
    public string Best => Path.Combine(Checkpoints, "best.safetensors");
    /// <summary>model.safetensors: the best model's weights under the official names, what predict and the Segmenter load.</summary>
    public string ExportedModel => Path.Combine(Root, "model.safetensors");
    /// <summary>curves.png: loss and IoU per epoch.</summary>
    public string Curves => Path.Combine(Root, "curves.png");
    /// <summary>overlays_best.png: validation images with the best model's masks.</summary>
    public string Overlays => Path.Combine(Root, "overlays_best.png");
    /// <summary>Diffusion runs: the sample grids, one PNG per sampling epoch.</summary>
    public string Samples => Path.Combine(Root, "samples");
    /// <summary>
    /// Where diffusion runs made before they shared this layout kept their checkpoint (the folder's root): read by
    /// <c>diffusion generate --weights</c>, moved to <see cref="Last"/> by <c>--resume</c>.
    /// </summary>
    public string OldDiffusionLast => Path.Combine(Root, "last.safetensors");

    /// <summary>The first line of metrics.csv.</summary>
    public static readonly string MetricsHeader = "epoch,lr,kan_lr,loss,iou,val_loss,val_iou,val_dice,val_iou_per_image,val_dice_per_image,seconds,best";

    /// <summary>Writes metrics.csv (atomically) from <paramref name="records"/>.</summary>
    public void WriteMetrics(IReadOnlyList<EpochRecord> records)
    {
        var sb = new StringBuilder(MetricsHeader).Append('\n');
        static string F(double? v) => v is double d ? d.ToString("G9", CultureInfo.InvariantCulture) : "";
        foreach (var r in records)
            sb.Append(string.Join(',', r.Epoch, F(r.LrBase), F(r.LrKan), F(r.Loss), F(r.Iou), F(r.ValLoss), F(r.ValIou), F(r.ValDice),
                F(r.ValIouPerImage), F(r.ValDicePerImage), F(r.Seconds), r.Best ? 1 : 0)).Append('\n');
        AtomicFile.WriteAllText(Metrics, sb.ToString());
    }

    /// <summary>Reads metrics.csv; empty when the run has none yet.</summary>
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
