using TorchSharp;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Losses;

/// <summary>The loss of a segmentation network on one batch, for every step that trains or validates it.</summary>
public static class ModelLoss
{
    /// <summary>The loss module of a <see cref="SegmentationLoss"/>: BCE + Dice (U-KAN's) or softmax cross-entropy + Dice.</summary>
    public static nn.Module<Tensor, Tensor, Tensor> Create(SegmentationLoss kind) =>
        kind == SegmentationLoss.CeDice ? new CeDiceLoss() : new BceDiceLoss();

    /// <summary>
    /// The loss and the logits that are scored. A network with deep supervision (<see cref="IDeepSupervision"/>) is
    /// scored on its final output, and its loss is the mean of <paramref name="loss"/> over all its outputs, as
    /// U-KAN's and pytorch-nested-unet's train.py do in training and validation (sum over the outputs, then
    /// <c>loss /= len(outputs)</c>); any other network gives one output and its loss.
    /// </summary>
    public static (Tensor Loss, Tensor Logits) Of(nn.Module<Tensor, Tensor> model, nn.Module<Tensor, Tensor, Tensor> loss, Tensor images, Tensor targets)
    {
        if (model is IDeepSupervision { DeepSupervision: true } supervised)
        {
            var outputs = supervised.Outputs(images);
            var sum = loss.call(outputs[0], targets);
            for (int i = 1; i < outputs.Count; i++) sum = sum + loss.call(outputs[i], targets);
            return (sum / outputs.Count, outputs[^1]);
        }
        var logits = model.call(images);
        return (loss.call(logits, targets), logits);
    }
}
