namespace UKan.Training;

/// <summary>One line of metrics.csv: the metrics of one epoch.</summary>
/// <param name="Epoch">0-based epoch.</param>
/// <param name="LrBase">Learning rate of the non-KAN parameters during the epoch.</param>
/// <param name="LrKan">Learning rate of the KAN parameters during the epoch.</param>
/// <param name="Loss">Mean training loss (BCE + Dice) over the epoch's steps.</param>
/// <param name="Iou">Training IoU (official, batch-pooled) over the epoch's batches.</param>
/// <param name="ValLoss">Validation loss; null in epochs without validation (<see cref="TrainConfig.ValidateEvery"/>).</param>
/// <param name="ValIou">Validation IoU as the official validate() computes it (pooled per batch); selects the best model.</param>
/// <param name="ValDice">Validation Dice as the official code reports it (2·IoU/(1+IoU) of the pooled IoU).</param>
/// <param name="ValIouPerImage">Mean of the per-image validation IoU.</param>
/// <param name="ValDicePerImage">Mean of the per-image validation Dice.</param>
/// <param name="Seconds">Wall-clock seconds of the epoch, validation included.</param>
/// <param name="Best">Whether this epoch's model became the exported best model.</param>
public sealed record EpochRecord(
    int Epoch, double LrBase, double LrKan, double Loss, double Iou, double? ValLoss, double? ValIou, double? ValDice,
    double? ValIouPerImage, double? ValDicePerImage, double Seconds, bool Best);

/// <summary>
/// How the trainer reports progress; the CLI renders it (bars on a terminal, lines otherwise). Called on the
/// training thread: keep the work small (a slow callback slows training).
/// </summary>
public interface ITrainingProgress
{
    /// <summary>A one-line note for the user (a warning, early stopping, where a file went).</summary>
    void Message(string text);
    /// <summary>Epoch <paramref name="epoch"/> (0-based) of <paramref name="totalEpochs"/> begins with <paramref name="steps"/> steps.</summary>
    void EpochStarted(int epoch, int totalEpochs, int steps);
    /// <summary>Step <paramref name="step"/> (1-based) of <paramref name="steps"/> ended. <paramref name="loss"/> is NaN when the
    /// trainer does not read the loss back per step (it does not today: that would stall the device); the epoch's mean
    /// comes with <see cref="EpochDone"/>.</summary>
    void StepDone(int epoch, int step, int steps, double loss);
    /// <summary>An epoch ended, with its metrics (the line just written to metrics.csv).</summary>
    void EpochDone(EpochRecord record, int totalEpochs);
}

/// <summary>Discards progress (tests, library use).</summary>
public sealed class SilentProgress : ITrainingProgress
{
    /// <summary>The one instance.</summary>
    public static readonly SilentProgress Instance = new();
    /// <inheritdoc/>
    public void Message(string text) { }
    /// <inheritdoc/>
    public void EpochStarted(int epoch, int totalEpochs, int steps) { }
    /// <inheritdoc/>
    public void StepDone(int epoch, int step, int steps, double loss) { }
    /// <inheritdoc/>
    public void EpochDone(EpochRecord record, int totalEpochs) { }
}
