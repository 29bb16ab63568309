using UKan.Training;

namespace UKan.Tests.Training;

public class LearningRateSchedulesTests
{
    // Diffusion U-KAN's recipe: lr 2e-4, multiplier 2, 100 epochs, so the warm-up lasts 10 epochs.
    [Theory]
    [InlineData(0, 2e-4)]     // warm-up starts at the base rate
    [InlineData(5, 3e-4)]     // halfway: 2e-4 · (1 · 5/10 + 1)
    [InlineData(9, 3.8e-4)]   // last warm-up epoch: 2e-4 · 1.9
    [InlineData(10, 4e-4)]    // cosine starts at 2 · 2e-4
    [InlineData(60, 2e-4)]    // (60 − 10)/100 = 1/2: cos(π/2) = 0, so half of 4e-4
    public void Warmup_cosine_matches_hand_computed_values(int epoch, double expected) =>
        Assert.Equal(expected, LearningRateSchedules.WarmupCosine(2e-4, epoch, 100, 2), 15);

    [Fact]
    public void Warmup_cosine_over_other_lengths()
    {
        // 30 epochs: warm-up 3; epoch 13 is a third into the cosine, cos(π/3) = 1/2, so 4e-4 · 3/4.
        Assert.Equal(3e-4, LearningRateSchedules.WarmupCosine(2e-4, 13, 30, 2), 15);
        // Under ten epochs the warm-up still lasts one epoch instead of dividing by zero.
        Assert.Equal(2e-4, LearningRateSchedules.WarmupCosine(2e-4, 0, 5, 2), 15);
        Assert.Equal(4e-4, LearningRateSchedules.WarmupCosine(2e-4, 1, 5, 2), 15);
    }
}
