using TorchSharp;
using UKan.Data;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Evaluation;

/// <summary>
/// Segments images of any size: each is resized to the model's input size and normalised as in training, the
/// probabilities are resized back to the image's own size (bilinear) and thresholded at 0.5 (sigmoid outputs) or
/// reduced to the most probable class (softmax outputs of a model trained with CE + Dice).
/// </summary>
public sealed class Inference(nn.Module<Tensor, Tensor> model, int height, int width, PreprocessingPreset preset, int channels, Device device,
    UKan.Models.SegmentationLoss output = UKan.Models.SegmentationLoss.BceDice) : ISegmenter
{
    public int Height => height;
    public int Width => width;
    public PreprocessingPreset Preset => preset;

    /// <summary>Probabilities (classes, H, W) at each input's own size, for a batch of decoded images (in the preset's channel order).</summary>
    public IReadOnlyList<Tensor> Probabilities(IReadOnlyList<Raster> images)
    {
        using var scope = NewDisposeScope();
        var input = Prepare(images, height, width, preset, channels);
        model.eval();
        using var _ = no_grad();
        var logits = model.call(tensor(input).reshape(images.Count, channels, height, width).to(device));
        return ToImageSizes(output == UKan.Models.SegmentationLoss.CeDice ? logits.softmax(1) : logits.sigmoid(), images);
    }

    /// <summary>The network input (batch, channels, height, width) as floats: each image resized (bilinear) and normalised.</summary>
    public static float[] Prepare(IReadOnlyList<Raster> images, int height, int width, PreprocessingPreset preset, int channels)
    {
        int hw = height * width;
        var input = new float[images.Count * channels * hw];
        Parallel.For(0, images.Count, i =>
        {
            var img = channels == 1 ? ImageOps.ToGray8(images[i]) : images[i];
            var resized = ImageOps.ResizeLinear(img, width, height);
            Preprocessing.ImageToChw(resized, preset, input.AsSpan(i * channels * hw, channels * hw));
        });
        return input;
    }

    /// <summary>Probabilities (batch, classes, h, w) resized back to each image's own size (bilinear), on the CPU, outliving the caller's scope.</summary>
    public static IReadOnlyList<Tensor> ToImageSizes(Tensor probs, IReadOnlyList<Raster> images)
    {
        var result = new List<Tensor>();
        for (int i = 0; i < images.Count; i++)
        {
            var p = F.interpolate(probs[i].unsqueeze(0), size: [images[i].Height, images[i].Width], mode: InterpolationMode.Bilinear, align_corners: false)[0];
            result.Add(p.cpu().MoveToOuterDisposeScope());
        }
        return result;
    }
}
