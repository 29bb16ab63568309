using UKan.Tests.Parity;
using static UKan.Tests.Commands.BadInputTests;

namespace UKan.Tests.Commands;

/// <summary>
/// What a user can get wrong with <c>ukan export onnx</c> and <c>ukan predict --engine onnx</c>: exit code 2, one line
/// naming the option or file, and no file written.
/// </summary>
public class OnnxBadInputTests
{
    static string Pth() => ParityFixtures.Get("ukan_tiny").PthPath!;

    static string[] Export(string output, params string[] extra) => ["export", "onnx", "--weights", Pth(), "--preset", "tiny", "--out", output, .. extra];

    [Theory]
    [InlineData("--size", "100x", "--size")]
    [InlineData("--size", "64x65", "--size")]
    [InlineData("--size", "big", "--size")]
    [InlineData("--opset", "16", "--opset 16")]
    [InlineData("--opset", "99", "--opset 99")]
    [InlineData("--batch", "0", "--batch 0")]
    [InlineData("--batch", "some", "--batch some")]
    public void Bad_export_options_are_refused_before_anything_is_written(string option, string value, string mentions)
    {
        var output = Path.Combine(Temp(), "m.onnx");
        AssertRefused(Run(Export(output, option, value)), mentions);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void An_existing_file_is_replaced_only_with_overwrite()
    {
        var output = Path.Combine(Temp(), "m.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        File.WriteAllText(output, "mine");
        AssertRefused(Run(Export(output)), "--overwrite");
        Assert.Equal("mine", File.ReadAllText(output));
    }

    [Fact]
    public void The_weights_file_itself_is_never_the_output()
    {
        var copy = Path.Combine(Temp(), "tiny.pth");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        File.Copy(Pth(), copy);
        var before = File.ReadAllBytes(copy);
        AssertRefused(Run("export", "onnx", "--weights", copy, "--preset", "tiny", "--out", copy, "--overwrite"), "input");
        Assert.Equal(before, File.ReadAllBytes(copy));
    }

    [Fact]
    public void Unreadable_weights_are_refused()
    {
        var damaged = Path.Combine(Temp(), "damaged.pth");
        Directory.CreateDirectory(Path.GetDirectoryName(damaged)!);
        File.WriteAllBytes(damaged, [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        var output = Path.Combine(Temp(), "m.onnx");
        AssertRefused(Run("export", "onnx", "--weights", damaged, "--preset", "tiny", "--out", output), "damaged.pth");
        AssertRefused(Run("export", "onnx", "--weights", "/nonexistent/w.pth", "--out", output), "/nonexistent/w.pth");
        Assert.False(File.Exists(output));
        AssertRefused(Run("predict", "--engine", "onnx", "--weights", damaged, SyntheticImage(), "--out", Temp()), "damaged.pth");
    }

    [Fact]
    public void Predict_output_folder_holding_the_onnx_file_is_refused()
    {
        var folder = Temp();
        Directory.CreateDirectory(folder);
        var model = Path.Combine(folder, "m.onnx");
        File.Copy(OnnxCommandTests.Exported(), model);
        AssertRefused(Run("predict", "--engine", "onnx", "--weights", model, SyntheticImage(), "--out", folder), "holds the input");
    }

    [Fact]
    public void Predict_onnx_refuses_model_options_and_other_preprocessing()
    {
        AssertRefused(Run("predict", "--engine", "onnx", "--weights", OnnxCommandTests.Exported(), "--preset", "paper", SyntheticImage(), "--out", Temp()), "--preset");
        AssertRefused(Run("predict", "--engine", "onnx", "--weights", OnnxCommandTests.Exported(), "--preprocessing", "standard", SyntheticImage(), "--out", Temp()), "--preprocessing standard");
    }

    [Fact]
    public void Predict_onnx_with_a_size_other_than_a_fixed_one_is_refused()
    {
        var fixedFile = Path.Combine(Temp(), "fixed.onnx");
        Assert.Equal(0, Run(Export(fixedFile, "--size", "64", "--batch", "1")).Code);
        AssertRefused(Run("predict", "--engine", "onnx", "--weights", fixedFile, "--size", "96", SyntheticImage(), "--out", Temp()), "--size 96x96");
        // Without --size it runs at the file's size, in batches of the file's batch size.
        var output = Temp();
        var r = Run("predict", "--engine", "onnx", "--weights", fixedFile, SyntheticImage(), Path.Combine(Dataset(n: 2), "images", "case001.png"), "--out", output);
        Assert.True(r.Code == 0, r.Stderr);
        Assert.Contains("input 64x64", r.Stdout);
        Assert.Equal(2, Directory.GetFiles(output, "*.png").Length);
    }
}
