using UKan.Models;
using UKan.Native;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The training step's score kernel (Native/Kernels/step_scores.cu) run on the CPU (<see cref="CudaEmulation"/>,
/// Emulation/step_scores_harness.cpp, in the geometry of <see cref="StepScoreKernels"/>) against
/// <see cref="StepScores.Torch"/>, twice on the same buffers as a replayed CUDA graph runs it: the pooled IoU with the
/// official smoothing, the loss copied and summed, the boundary cases of the masks (logits of exactly 0 and NaN,
/// targets of exactly 0.5 count as background), several blocks whose counts the last one merges, and the counts left
/// at zero for the next step.
/// </summary>
public class StepScoresEmulationTests
{
    [Theory]
    [InlineData(1000, 1)]
    [InlineData(70_001, 3)]
    [InlineData(5, 2)]
    public void The_kernel_adds_the_batch_iou_and_loss_as_the_operations_do(int n, int blocks)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(71);
        var logits = randn(n, generator: gen);
        var target = (rand(n, generator: gen) > 0.6).to(float32);
        logits[0] = 0.0f;                      // not > 0: background
        target[1] = 0.5f;                      // not > 0.5: background
        logits[2] = float.NaN;                 // a NaN logit predicts background
        target[n - 1] = 1.0f;
        var losses = tensor(new[] { 0.75f, 0.5f });
        var before = tensor(new[] { 0.1f, 2.5f, 1.25f });                               // last loss, loss sum, IoU sum

        var dir = CudaEmulation.Folder();
        CudaEmulation.Write(dir, "logits", logits);
        CudaEmulation.Write(dir, "target", target);
        CudaEmulation.Write(dir, "loss", losses);
        CudaEmulation.Write(dir, "sums", before);
        const double smooth = UKan.Evaluation.SegmentationScores.OfficialSmooth;
        CudaEmulation.Run("step_scores_harness", dir, n, blocks, StepScoreKernels.Threads, CudaEmulation.Text(smooth));

        var (last, lossSum, iouSum) = (before[0..1].clone(), before[1..2].clone(), before[2..3].clone());
        var (map, mapTarget) = (logits.view(1, 1, 1, n), target.view(1, 1, 1, n));
        for (int i = 0; i < 2; i++)
            StepScores.Torch(map, mapTarget, losses[i], SegmentationLoss.BceDice, last, lossSum, iouSum);
        var sums = CudaEmulation.Read(dir, "sums", 3);
        Assert.Equal(new[] { last.item<float>(), lossSum.item<float>(), iouSum.item<float>() }, sums.data<float>().ToArray());
        Assert.Equal(new float[] { 0, 0, 0 }, CudaEmulation.Read(dir, "counts", 3).data<float>().ToArray());
        Assert.True(iouSum.item<float>() > 1.25f + 0.1f, "the IoU must be a real fraction of the data, not 0");
    }

    [Fact]
    public void The_geometry_and_the_tensors_the_kernel_takes()
    {
        Assert.Equal(256u, StepScoreKernels.Blocks(8L * 256 * 256, 132));            // 8 values a thread
        Assert.Equal(528u, StepScoreKernels.Blocks(8L * 512 * 512, 132));            // at most 4 blocks a multiprocessor
        Assert.Equal(1u, StepScoreKernels.Blocks(1, 132));
        Assert.True(StepScores.KernelsTake(zeros(2, 1, 4, 4), zeros(2, 1, 4, 4)));
        Assert.False(StepScores.KernelsTake(zeros(2, 1, 4, 4), zeros(2, 1, 4, 5)));
        Assert.False(StepScores.KernelsTake(zeros(2, 1, 4, 4, dtype: float64), zeros(2, 1, 4, 4)));
        Assert.False(StepScores.KernelsTake(zeros(2, 1, 4, 4).transpose(2, 3), zeros(2, 1, 4, 4)));
        // On the CPU the operations run (even forced on): the sums move as the reference has them.
        var (last, lossSum, iouSum) = (zeros(1), zeros(1), zeros(1));
        StepScores.With(true, () =>
        {
            StepScores.Add(ones(1, 1, 2, 2), ones(1, 1, 2, 2), tensor(0.25f), SegmentationLoss.BceDice, last, lossSum, iouSum, zeros(3, dtype: int64));
            return 0;
        });
        Assert.Equal((0.25f, 0.25f, 1.0f), (last.item<float>(), lossSum.item<float>(), iouSum.item<float>()));
    }
}
