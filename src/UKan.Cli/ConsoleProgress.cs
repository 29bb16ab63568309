using Spectre.Console;
using UKan.Training;

namespace UKan.Cli;

/// <summary>
/// Renders training progress: a live bar with ETA on an interactive terminal, one plain line per epoch otherwise
/// (logs, CI, redirected output).
/// </summary>
sealed class ConsoleProgress : ITrainingProgress
{
    ProgressTask? task;
    readonly List<double> recent = [];
    int firstEpoch = -1;

    public static bool Interactive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="work"/> with a live progress display when interactive.</summary>
    public T Run<T>(Func<ITrainingProgress, T> work)
    {
        if (!Interactive) return work(this);
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(ctx =>
            {
                task = ctx.AddTask("training", maxValue: 1);
                result = work(this);
            });
        return result;
    }

    /// <summary>
    /// Runs <paramref name="work"/> with a bar labelled <paramref name="what"/> up to <paramref name="total"/> on a
    /// terminal (work reports progress through the callback it is given), silently otherwise.
    /// </summary>
    public static T Bar<T>(string what, double total, Func<Action<double>, T> work)
    {
        if (!Interactive) return work(_ => { });
        T result = default!;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask(what, maxValue: total);
                result = work(done => bar.Value = done);
            });
        return result;
    }

    public void Message(string text) => Console.WriteLine(text);

    public void EpochStarted(int epoch, int totalEpochs, int steps)
    {
        if (firstEpoch < 0) firstEpoch = epoch;
        if (task is null) return;
        task.MaxValue = (double)(totalEpochs - firstEpoch) * steps;
        task.Description = $"epoch {epoch + 1}/{totalEpochs}";
    }

    public void StepDone(int epoch, int step, int steps, double loss) => task?.Increment(1);

    public void EpochDone(EpochRecord r, int totalEpochs)
    {
        var left = totalEpochs - r.Epoch - 1;
        // From the recent epochs alone: the first one carries the start-up (autotuning, kernels, graph capture) and
        // would inflate the estimate many times over for a short run.
        recent.Add(r.Seconds);
        var typical = recent.Skip(recent.Count > 1 ? 1 : 0).TakeLast(5).Order().ToList();
        var eta = TimeSpan.FromSeconds(typical[typical.Count / 2] * left);
        var val = r.ValIou is null ? "" :
            $"  val_loss {r.ValLoss:F4}  val_iou {r.ValIou:F4}  val_dice {r.ValDice:F4}  (per-image iou {r.ValIouPerImage:F4}){(r.Best ? "  best" : "")}";
        var line = $"epoch {r.Epoch + 1}/{totalEpochs}  loss {r.Loss:F4}  iou {r.Iou:F4}{val}  {r.Seconds:F1} s  eta {eta:hh\\:mm\\:ss}";
        if (task is not null) AnsiConsole.MarkupLine(Markup.Escape(line));
        else Console.WriteLine(line);
    }
}
