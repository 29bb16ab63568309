using TorchSharp;
using UKan.Evaluation;
using static TorchSharp.torch;

namespace UKan.Tests.Evaluation;

public class TensorMasksTests
{
    [Fact]
    public void Thresholds_logits_at_zero_and_targets_at_half()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var logits = tensor(new float[] { -3f, 0f, 1e-3f, 5f, -1e-3f, 2f }).reshape(1, 1, 2, 3);
        var target = tensor(new float[] { 0f, 0.5f, 0.51f, 1f, 0.2f, 1f }).reshape(1, 1, 2, 3);
        Assert.Equal([false, false, true, true, false, true], TensorMasks.FromLogits(logits, out var shape));
        Assert.Equal(new BatchShape(1, 2, 3), shape);
        Assert.Equal([false, false, true, true, false, true], TensorMasks.FromTarget(target, out _));
        Assert.Equal(new BatchShape(2, 4, 5), TensorMasks.ShapeOf(zeros(2, 4, 5)));
        Assert.Throws<ArgumentException>(() => TensorMasks.ShapeOf(zeros(2, 3, 4, 5)));
    }

    [Fact]
    public void AddLogits_equals_adding_the_thresholded_masks()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var generator = new torch.Generator(42);
        var logits = randn([4, 1, 16, 12], generator: generator);
        var target = rand([4, 1, 16, 12], generator: generator);
        var viaTensors = new SegmentationMeter();
        viaTensors.AddLogits(logits, target, ["a", "b", "c", "d"]);
        var viaMasks = new SegmentationMeter();
        viaMasks.Add(TensorMasks.FromLogits(logits, out var shape), TensorMasks.FromTarget(target, out _), shape, ["a", "b", "c", "d"]);
        Assert.Equal(viaMasks.Images, viaTensors.Images);
        Assert.Equal(viaMasks.Batches, viaTensors.Batches);
        // upstream's definition, sigmoid > 0.5, agrees away from the float32 rounding band around 0
        var sigmoid = (torch.sigmoid(logits) > 0.5).data<bool>().ToArray();
        Assert.Equal(sigmoid, TensorMasks.FromLogits(logits, out _));
    }
}
