using TorchSharp;
using UKan.Data;
using UKan.IO;
using UKan.Layers;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Evaluation;

/// <summary>
/// A trained model to score, opened from a folder: a training run (its best model, model.safetensors; its own
/// images are the validation images of its split.json) or a <c>ukan cv</c> folder (the ensemble of its fold models;
/// its own images are the held-out test images of its splits.json). Both are scored at the size, preprocessing and
/// channels they trained with.
/// </summary>
public sealed class EvaluationModel : IDisposable
{
    public string Folder { get; }
    public TrainConfig Config { get; }
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Members { get; }
    /// <summary>The images this model reports on unless told otherwise (see the class summary).</summary>
    public EvaluationImages OwnImages { get; }

    EvaluationModel(string folder, TrainConfig config, IReadOnlyList<nn.Module<Tensor, Tensor>> members, EvaluationImages own) =>
        (Folder, Config, Members, OwnImages) = (folder, config, members, own);

    /// <summary>What the model is, for tables: the architecture, and "ensemble of k folds" for a cv folder.</summary>
    public string Description => Describe(Config, Members.Count);

    /// <summary>"&lt;architecture&gt;" for one model, "&lt;architecture&gt;, ensemble of k folds" for k fold models.</summary>
    public static string Describe(TrainConfig config, int members) =>
        config.Model.Describe() + (members > 1 ? $", ensemble of {members} folds" : "");

    /// <summary>Whether <paramref name="path"/> is a folder <see cref="Open"/> takes.</summary>
    public static bool IsModelFolder(string path) =>
        Directory.Exists(path) && RunDirectory.Kind(path) is RunDirectory.Segmentation or RunDirectory.CrossValidation;

    /// <summary>
    /// The dataset folder the model of <paramref name="path"/> (a folder <see cref="IsModelFolder"/> takes) trained on,
    /// read from its settings without loading a model: an input of whatever scores it, so no output goes there.
    /// </summary>
    public static string DataOf(string path) => RunDirectory.Kind(path) == RunDirectory.CrossValidation
        ? CrossValidationConfig.Load(Path.Combine(path, CrossValidation.SettingsFile)).Train.Data
        : TrainConfig.Load(new RunFolder(path).Config).Data;

    public static EvaluationModel Open(string path, Device device)
    {
        if (!Directory.Exists(path)) throw new UserError($"{path}: no such folder; give a run folder of 'ukan train' or a folder of 'ukan cv'.");
        var kind = RunDirectory.Kind(path);
        if (kind == RunDirectory.CrossValidation)
        {
            var settings = CrossValidationConfig.Load(Path.Combine(path, CrossValidation.SettingsFile));
            var split = Path.Combine(path, CrossValidation.SplitsFile);
            var own = EvaluationImages.Select(settings.Train.Data, split, settings.Train.Model.NumClasses);
            for (int k = 0; k < settings.Folds; k++)
            {
                var weights = new RunFolder(CrossValidation.FoldFolder(path, k)).ExportedModel;
                if (File.Exists(weights)) continue;
                // Folders copied back without their weights (only small files) can still be compared from their scores.
                if (!File.Exists(CrossValidation.EnsembleTestScores(path)))
                    throw new UserError($"{path}: fold {k} has no weights ({weights}) and the folder has no saved scores " +
                                        $"({CrossValidation.EnsembleTestScores(path)}); copy either back, or finish the cv by running the same 'ukan cv' again.");
                throw new UserError($"{path}: fold {k} has no weights ({weights}), so it cannot be scored again; compare reads saved test scores " +
                                    "instead only when every folder given is a cv folder holding them and neither --data nor --split is given.");
            }
            var members = CrossValidation.LoadFoldModels(path, settings.Folds, device);
            foreach (var member in members) BatchNormFold.ApplyForInference(member);
            return new EvaluationModel(Path.GetFullPath(path), settings.Train, members, own);
        }
        if (kind != RunDirectory.Segmentation)
            throw new UserError($"{path}: not a run folder of 'ukan train' nor a folder of 'ukan cv'.");
        var run = new RunFolder(path);
        if (!File.Exists(run.Config)) throw new UserError($"{path}: not a run folder (no config.json); pass a run folder or a weights file.");
        var config = TrainConfig.Load(run.Config);
        // Scoring here reads masks/ and sigmoid probabilities (Evaluator.RunEnsemble); a softmax model's label maps are not.
        if (config.Model.Loss == SegmentationLoss.CeDice)
            throw new UserError($"{path}: a ce-dice (softmax) model; compare scores bce-dice models only for now: score it with 'ukan eval {path}'.");
        if (!File.Exists(run.ExportedModel)) throw new UserError($"{path}: the run has no model.safetensors yet (no epoch finished).");
        var images = EvaluationImages.Select(config.Data, File.Exists(run.Split) ? run.Split : null, config.Model.NumClasses);
        var model = ModelLoader.Load(run.ExportedModel).Model.to(device);
        // Only scored from here on: each conv → BN pair runs as one convolution (UKAN_FOLD_BN=off to compare).
        BatchNormFold.ApplyForInference(model);
        return new EvaluationModel(run.Root, config, [model], images);
    }

    /// <summary>Scores the model on <paramref name="images"/> (both ways; HD95 only when asked for).</summary>
    public (SegmentationSummary Summary, SegmentationMeter Meter) Score(EvaluationImages images, Device device, int batch = 8, bool hd95 = true)
    {
        var folder = new SegmentationFolder(images.Data, Config.Model.NumClasses);
        var dataset = new SegmentationDataset(folder, Config.Height, Config.Width, Config.Preprocessing, Config.Model.InChannels);
        return Evaluator.RunEnsemble(Members, dataset, images.Ids, device, batch, hd95);
    }

    public void Dispose()
    {
        foreach (var m in Members) m.Dispose();
    }
}
