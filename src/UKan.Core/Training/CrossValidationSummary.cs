using UKan.Evaluation;

namespace UKan.Training;

/// <summary>
/// One fold of a cross-validation: its best epoch (chosen on its validation images, as training does), and the best
/// model's scores on its validation images and on the held-out test images.
/// </summary>
public sealed record CrossValidationFold(int Fold, int TrainImages, int ValidationImages, int EpochsDone, int BestEpoch,
    SegmentationSummary Validation, SegmentationSummary Test);

/// <summary>Mean, standard deviation (ddof = 0) and median over folds of the fold models' test scores.</summary>
public sealed record FoldSpread(MetricStatistics OfficialIou, MetricStatistics OfficialDice, MetricStatistics PerImageIou,
    MetricStatistics PerImageDice, MetricStatistics PerImageHd95)
{
    public static FoldSpread Of(IReadOnlyList<SegmentationSummary> tests) => new(
        MetricStatistics.Of(tests.Select(t => t.Official.Iou)), MetricStatistics.Of(tests.Select(t => t.Official.Dice)),
        MetricStatistics.Of(tests.Select(t => t.PerImage.Iou.Mean)), MetricStatistics.Of(tests.Select(t => t.PerImage.Dice.Mean)),
        MetricStatistics.Of(tests.Select(t => t.PerImage.Hd95.Mean)));
}

/// <summary>
/// What <c>ukan cv</c> reports (cv_summary.json): per fold; the fold models' test scores over folds; the pooled
/// out-of-fold validation (every non-test image scored once, by the model that did not train on it: per-image);
/// and the ensemble of the fold models on the test images (probabilities averaged, then 0.5), the number to report.
/// </summary>
public sealed record CrossValidationSummary(string Model, string Data, int Folds, int TestImages, long Seed, double TestFraction,
    IReadOnlyList<CrossValidationFold> PerFold, FoldSpread TestAcrossFolds, PerImageSummary PooledValidation, SegmentationSummary EnsembleTest);
