using UKan.Training;

namespace UKan.Evaluation;

/// <summary>
/// What <c>ukan eval</c> is pointed at: a run folder (its best model, settings and split) or a weights file.
/// <see cref="Split"/> is the run's split.json (its validation images are scored unless told otherwise).
/// </summary>
public sealed record EvaluationTarget(string Weights, TrainConfig? Run, string? RunRoot, string? Split)
{
    /// <summary>The per-image CSV a run keeps for itself (replaced by every evaluation), or null for a weights file.</summary>
    public string? RunCsv => RunRoot is null ? null : Path.Combine(RunRoot, "eval_per_image.csv");

    public static EvaluationTarget Resolve(string path)
    {
        if (Directory.Exists(path))
        {
            var run = new RunFolder(path);
            // Folders of the other kinds hold a config.json of other settings (a diffusion run) or none (a cv folder).
            if (UKan.IO.RunDirectory.Kind(path) == UKan.IO.RunDirectory.Diffusion)
                throw new UserError($"{path}: a diffusion run; eval scores segmentation models: sample it with 'ukan diffusion generate --weights {path}' " +
                                    "and score the images with 'ukan diffusion eval'.");
            if (UKan.IO.RunDirectory.Kind(path) == UKan.IO.RunDirectory.CrossValidation)
                throw new UserError($"{path}: a cv folder (its test scores are in cv_summary.md); evaluate one fold's run, " +
                                    $"e.g. 'ukan eval {CrossValidation.FoldFolder(path, 0)}', or compare cv folders with 'ukan compare'.");
            if (!File.Exists(run.Config)) throw new UserError($"{path}: not a run folder (no config.json); pass a run folder or a weights file.");
            var config = TrainConfig.Load(run.Config);
            var weights = File.Exists(run.ExportedModel) ? run.ExportedModel : throw new UserError($"{path}: the run has no model.safetensors yet (no epoch finished).");
            return new EvaluationTarget(weights, config, run.Root, run.Split);
        }
        if (!File.Exists(path)) throw new UserError($"{path}: no such run folder or weights file.");
        return new EvaluationTarget(path, null, null, null);
    }
}
