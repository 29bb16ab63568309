using UKan.Losses;
using static TorchSharp.torch;

namespace UKan.Tests.Losses;

public class CeDiceLossTests
{
    [Fact]
    public void Loss_is_half_the_cross_entropy_plus_one_minus_the_mean_foreground_batch_dice()
    {
        _ = TestTorch.Runtime;
        // Two images of 1×2 pixels, three classes; labels [[0, 1], [2, 1]].
        var logits = tensor(new float[] { 2, 0, 0.5f, 1, -1, 0, 0, 3, 1, 0, 0, 2 }).reshape(2, 3, 1, 2);
        int[][] labels = [[0, 1], [2, 1]];
        var target = zeros(2, 3, 1, 2);
        for (int b = 0; b < 2; b++) for (int x = 0; x < 2; x++) target[b, labels[b][x], 0, x] = tensor(1f);

        // By hand in double precision: softmax per pixel, CE mean over 4 pixels, Dice per class over the batch.
        var l = logits.to(float64).data<double>().ToArray();
        double Logit(int b, int c, int x) => l[(b * 3 + c) * 2 + x];
        double ce = 0;
        var sums = new double[3, 3];   // class: Σ p·t, Σ p, Σ t
        for (int b = 0; b < 2; b++)
            for (int x = 0; x < 2; x++)
            {
                double z = Enumerable.Range(0, 3).Sum(c => Math.Exp(Logit(b, c, x)));
                ce -= Math.Log(Math.Exp(Logit(b, labels[b][x], x)) / z);
                for (int c = 0; c < 3; c++)
                {
                    double p = Math.Exp(Logit(b, c, x)) / z, t = labels[b][x] == c ? 1 : 0;
                    sums[c, 0] += p * t; sums[c, 1] += p; sums[c, 2] += t;
                }
            }
        ce /= 4;
        double Dice(int c) => (2 * sums[c, 0] + 1e-5) / (sums[c, 1] + sums[c, 2] + 1e-5);
        double expected = 0.5 * ce + 1 - (Dice(1) + Dice(2)) / 2;

        var loss = new CeDiceLoss().call(logits, target).item<float>();
        Assert.Equal(expected, loss, 1e-5);
    }

    [Fact]
    public void A_confident_correct_prediction_costs_almost_nothing_and_a_wrong_one_a_lot()
    {
        _ = TestTorch.Runtime;
        var target = zeros(1, 3, 4, 4);
        target[0, 0] = ones(4, 4);
        target[0, 0, 1, 1] = tensor(0f);
        target[0, 2, 1, 1] = tensor(1f);
        var right = new CeDiceLoss().call(target * 40 - 20, target).item<float>();
        var wrong = new CeDiceLoss().call(target.roll(1, 1) * 40 - 20, target).item<float>();
        Assert.InRange(right, 0, 1e-3);
        Assert.True(wrong > 1.5, $"loss of a wrong prediction {wrong}");
    }
}
