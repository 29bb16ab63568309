using UKan.Training;

namespace UKan.Evaluation;

/// <summary>
/// The per-image scores a <c>ukan cv</c> folder saved for the ensemble of its folds on its test images
/// (<see cref="CrossValidation.EnsembleTestScores"/>): what <c>ukan compare</c> reads instead of scoring the fold
/// models again, so that folders copied back without their weights can still be compared. The rows are those the
/// ensemble gave when the cv finished, read column by column (<see cref="SegmentationMeter.ReadImagesCsv"/>); scoring
/// the same weights again on the same images gives the same rows.
/// </summary>
public sealed record SavedScores(string Folder, TrainConfig Config, int Folds, EvaluationImages Images, IReadOnlyList<ImageMetrics> Rows)
{
    /// <summary>What the model was, for tables (as <see cref="EvaluationModel.Description"/>).</summary>
    public string Description => EvaluationModel.Describe(Config, Folds);

    /// <summary>The saved scores of the cv folder <paramref name="path"/>; no model or image is read.</summary>
    public static SavedScores Load(string path)
    {
        var settings = CrossValidationConfig.Load(Path.Combine(path, CrossValidation.SettingsFile));
        var file = CrossValidation.EnsembleTestScores(path);
        if (!File.Exists(file))
            throw new UserError($"{path}: no saved scores ({file} is written when a cv finishes); " +
                                $"continue it with 'ukan cv --out {path}' and its options, or compare only finished cv folders.");
        var rows = SegmentationMeter.ReadImagesCsv(file);
        if (rows.Count == 0)
            throw new UserError($"{file}: holds no image; the cv folder is damaged (run the same 'ukan cv' again to score its folds).");
        var twice = rows.GroupBy(r => r.Id, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new UserError($"{file}: image {twice.Key} is scored twice; the file is damaged (run the same 'ukan cv' again).");
        var images = new EvaluationImages(Path.GetFullPath(settings.Train.Data), rows.Select(r => r.Id).ToList(), "test images, from saved scores");
        return new SavedScores(Path.GetFullPath(path), settings.Train, settings.Folds, images, rows);
    }
}
