using TorchSharp;
using UKan.Data;
using UKan.IO;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Evaluation;

/// <summary>
/// A segmentation model ready for inference: the network on its device, its spec, the input size and the
/// preprocessing it was trained with. <see cref="Load"/> is the one resolution of weights, spec, size and preprocessing
/// shared by <c>ukan eval</c>, <c>ukan predict</c>, <c>ukan serve</c> and the library's <see cref="Segmenter"/>: settings
/// recorded in the run folder a weights file sits in are the defaults, and stated settings that contradict the file or
/// its run are refused, not ignored.
/// </summary>
public sealed record InferenceModel(nn.Module<Tensor, Tensor> Net, ModelSpec Spec, int Height, int Width, PreprocessingPreset Preset, TrainConfig? Run)
{
    /// <summary>The input size when neither the caller nor a run states one (the official training size).</summary>
    public const int DefaultSize = 256;

    /// <summary>A run folder given as weights stands for its model.safetensors; a file is itself.</summary>
    public static string WeightsIn(string weights)
    {
        if (!Directory.Exists(weights)) return weights;
        var model = new RunFolder(weights).ExportedModel;
        return File.Exists(model) ? model
            : throw new UserError($"--weights {weights}: a folder without model.safetensors; give a run folder whose first epoch has finished, or a weights file.");
    }

    /// <summary>
    /// The training settings of the run a weights file belongs to, when it sits in a run folder (or its checkpoints/).
    /// A run folder (marker) with a damaged config.json is an error; a config.json of something else is ignored.
    /// </summary>
    public static TrainConfig? RunOf(string weightsPath) => RunAround(weightsPath)?.Config;

    /// <summary>
    /// The run folder a weights file sits in (or in its checkpoints/) with its training settings, as <see cref="RunOf"/>
    /// finds them; null when the file belongs to no run.
    /// </summary>
    public static (RunFolder Folder, TrainConfig Config)? RunAround(string weightsPath)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(weightsPath));
        for (int i = 0; i < 2 && dir is not null; i++, dir = Path.GetDirectoryName(dir))
        {
            var folder = new RunFolder(dir);
            if (RunDirectory.IsRun(dir) && RunDirectory.Kind(dir) == RunDirectory.Segmentation)
                return File.Exists(folder.Config) ? (folder, TrainConfig.Load(folder.Config))
                    : throw new UserError($"{dir}: the run folder of {weightsPath} has no config.json; restore it, or copy the weights file out of the folder.");
            if (File.Exists(folder.Config))
            {
                try { return (folder, TrainConfig.FromJson(File.ReadAllText(folder.Config))); }
                catch (Exception e) when (e is System.Text.Json.JsonException or UserError or NotSupportedException) { return null; }
            }
        }
        return null;
    }

    /// <summary>
    /// Loads <paramref name="weights"/> (a weights file; see <see cref="WeightsIn"/> for run folders) onto
    /// <paramref name="device"/> and settles size and preprocessing.
    /// </summary>
    /// <param name="size">The model input size (height, width); null: the run's, else <see cref="DefaultSize"/>.</param>
    /// <param name="preprocessing">null: the run's, else official.</param>
    /// <param name="run">The run's settings when the caller has them already; null: looked up with <see cref="RunOf"/>.</param>
    /// <param name="warn">Told about weights that hold NaN or infinite values.</param>
    /// <param name="foldBatchNorm">Run each conv → BN pair as one convolution (<see cref="UKan.Layers.BatchNormFold"/>, unless
    /// UKAN_FOLD_BN=off); false for callers that read the model's own layers (the ONNX exporter folds by itself).</param>
    public static InferenceModel Load(string weights, ModelRequest model, (int Height, int Width)? size, PreprocessingPreset? preprocessing,
        TrainConfig? run, Device device, Action<string>? warn = null, bool foldBatchNorm = true)
    {
        run ??= RunOf(weights);
        var (net, spec) = ModelLoader.Load(weights, recorded => model.Choose(recorded, weights), warn);
        net.to(device);
        // Inference only from here on: each conv → BN pair runs as one convolution (UKAN_FOLD_BN=off to compare).
        if (foldBatchNorm) UKan.Layers.BatchNormFold.ApplyForInference(net);
        var (h, w) = size ?? (run?.Height ?? DefaultSize, run?.Width ?? DefaultSize);
        if (run is not null && (h, w) != (run.Height, run.Width))
            throw new UserError($"--size {h}x{w}: the run of {weights} trained at {run.Height}x{run.Width}, and the model only knows that size; drop --size.");
        var preset = preprocessing ?? run?.Preprocessing ?? PreprocessingPreset.Official;
        if (run is not null && preset != run.Preprocessing)
            throw new UserError($"--preprocessing {preset.ToString().ToLowerInvariant()}: the run of {weights} trained with {run.Preprocessing.ToString().ToLowerInvariant()} preprocessing; drop --preprocessing.");
        return new InferenceModel(net, spec, h, w, preset, run);
    }
}
