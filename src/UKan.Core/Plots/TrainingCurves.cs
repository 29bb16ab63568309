using UKan.Training;

namespace UKan.Plots;

/// <summary>Loss and IoU curves of a run (nnU-Net's progress.png habit), redrawn after every epoch.</summary>
public static class TrainingCurves
{
    public static void Save(string path, IReadOnlyList<EpochRecord> records)
    {
        if (records.Count == 0) return;
        var loss = PlotFont.NewPlot();
        var iou = PlotFont.NewPlot();
        double[] epochs = records.Select(r => (double)r.Epoch + 1).ToArray();
        var trainLoss = loss.Add.Scatter(epochs, records.Select(r => r.Loss).ToArray());
        trainLoss.LegendText = "train loss";
        var val = records.Where(r => r.ValLoss is not null).ToList();
        if (val.Count > 0)
        {
            var vx = val.Select(r => (double)r.Epoch + 1).ToArray();
            var valLoss = loss.Add.Scatter(vx, val.Select(r => r.ValLoss!.Value).ToArray());
            valLoss.LegendText = "validation loss";
            var valIou = iou.Add.Scatter(vx, val.Select(r => r.ValIou!.Value).ToArray());
            valIou.LegendText = "validation IoU (official, batch-pooled)";
            var perImage = iou.Add.Scatter(vx, val.Select(r => r.ValIouPerImage ?? double.NaN).ToArray());
            perImage.LegendText = "validation IoU (per-image mean)";
        }
        var trainIou = iou.Add.Scatter(epochs, records.Select(r => r.Iou).ToArray());
        trainIou.LegendText = "train IoU (batch-pooled)";
        loss.Title("BCE + Dice loss");
        loss.XLabel("epoch");
        iou.Title("IoU");
        iou.XLabel("epoch");
        loss.ShowLegend();
        iou.ShowLegend();
        var panels = new[] { loss, iou }
            .Select(p => UKan.Data.ImageFile.Decode(p.GetImageBytes(900, 450, ScottPlot.ImageFormat.Png), "curves.png"))
            .Select(r => UKan.Data.ImageOps.ToColor8(r))
            .ToList();
        UKan.Data.ImageFile.WritePng(path, Overlays.Grid(panels, columns: 1));
    }
}
