namespace UKan.Training;

/// <summary>One line of metrics.csv.</summary>
public sealed record EpochRecord(
    int Epoch, double LrBase, double LrKan, double Loss, double Iou, double? ValLoss, double? ValIou, double? ValDice,
    double? ValIouPerImage, double? ValDicePerImage, double Seconds, bool Best);

/// <summary>How the trainer reports progress; the CLI renders it (bars on a terminal, lines otherwise).</summary>
public interface ITrainingProgress
{
    void Message(string text);
    void EpochStarted(int epoch, int totalEpochs, int steps);
    void StepDone(int epoch, int step, int steps, double loss);
    void EpochDone(EpochRecord record, int totalEpochs);
}

/// <summary>Discards progress (tests, library use).</summary>
public sealed class SilentProgress : ITrainingProgress
{
    public static readonly SilentProgress Instance = new();
    public void Message(string text) { }
    public void EpochStarted(int epoch, int totalEpochs, int steps) { }
    public void StepDone(int epoch, int step, int steps, double loss) { }
    public void EpochDone(EpochRecord record, int totalEpochs) { }
}
