namespace UKan.Tests.Commands;

/// <summary>
/// <c>ukan train --precision</c>: tf32 (TF32 matrix products as well as convolutions) is one of the training modes;
/// every mode but fp32 is for CUDA and is refused on the CPU before anything starts.
/// </summary>
public class TrainPrecisionCommandTests
{
    [Theory]
    [InlineData("tf32")]
    [InlineData("fp32-strict")]
    [InlineData("bf16")]
    public void A_gpu_precision_on_the_cpu_is_refused_before_training_starts(string precision)
    {
        var output = BadInputTests.Temp();
        var r = CliRunner.Run(BadInputTests.Train(BadInputTests.Dataset(), output, "--device", "cpu", "--precision", precision));
        Assert.Equal(2, r.Code);
        Assert.Equal($"ukan: error: --precision {precision} is for CUDA devices; on cpu use --precision fp32.", r.Stderr.Trim());
        Assert.DoesNotContain("training ", r.Stdout);
        Assert.False(Directory.Exists(output), "a run folder was left behind");
    }

    [Fact]
    public void The_help_lists_tf32_and_an_unknown_precision_is_refused()
    {
        Assert.Contains("tf32 (TF32 convolutions and matrix products)", CliRunner.Run("train", "--help").Stdout);
        var r = CliRunner.Run(BadInputTests.Train(BadInputTests.Dataset(), BadInputTests.Temp(), "--device", "cpu", "--precision", "fp8"));
        Assert.Equal(2, r.Code);
        Assert.Contains("tf32", r.Stderr);
    }
}
