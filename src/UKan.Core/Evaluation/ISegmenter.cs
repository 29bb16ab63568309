using UKan.Data;
using static TorchSharp.torch;

namespace UKan.Evaluation;

/// <summary>
/// An inference engine for segmentation: TorchSharp (<see cref="Inference"/>) or ONNX Runtime
/// (<see cref="UKan.Export.OnnxSegmenter"/>). Both resize images to the model's input size, normalise them by the
/// preprocessing preset, run the network and resize the probabilities back, so callers write results once.
/// </summary>
public interface ISegmenter
{
    /// <summary>The input size images are resized to.</summary>
    int Height { get; }
    int Width { get; }
    /// <summary>Decides the channel order images are decoded in (<see cref="Preprocessing.Order"/>) and the normalisation.</summary>
    PreprocessingPreset Preset { get; }

    /// <summary>Probabilities (classes, H, W) at each input's own size, for a batch of decoded images (in the preset's channel order).</summary>
    IReadOnlyList<Tensor> Probabilities(IReadOnlyList<Raster> images);
}
