using System.Globalization;
using UKan.Models;

namespace UKan.Tests.Commands;

/// <summary>
/// Each baseline trains on the embedded demo set (Kvasir-SEG subset) through the CLI with U-KAN's recipe, and its run
/// goes through eval, predict, and ONNX export and prediction; the weights file records the architecture and refuses a contradicting --model.
/// </summary>
public class BaselineWorkflowTests
{
    static string DemoData()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "data", "demo", "kvasir-seg-48");
            if (Directory.Exists(Path.Combine(candidate, "images"))) return candidate;
        }
        Assert.Skip("the demo data (data/demo/kvasir-seg-48) is not above the test binaries");
        return "";
    }

    static CliOutcome Ok(params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.True(r.Code == 0, $"ukan {string.Join(' ', args)} exited with {r.Code}: {r.Stderr}");
        return r;
    }

    [Theory]
    [InlineData("unet", Architecture.UNet, """{"width":8}""")]
    [InlineData("attunet", Architecture.AttUNet, """{"width":8}""")]
    [InlineData("unetpp", Architecture.UNetPlusPlus, """{"width":8}""")]
    [InlineData("unetpp", Architecture.UNetPlusPlus, """{"width":8,"deep_supervision":true}""")]
    [InlineData("unext", Architecture.UNext, null)]
    public void Trains_on_the_demo_set_and_evaluates_and_predicts(string model, Architecture architecture, string? options)
    {
        var data = DemoData();
        var run = Path.Combine(Path.GetTempPath(), $"ukan-baseline-{model}-{Guid.NewGuid():N}");
        try
        {
            string[] sizing = options is null ? ["--preset", "tiny"] : ["--arch-options", options];
            Ok(["train", "--data", data, "--out", run, "--model", model, .. sizing, "--size", "64", "--epochs", "2", "--batch", "4",
                "--lr", "1e-3", "--preprocessing", "standard"]);
            var lines = File.ReadAllLines(Path.Combine(run, "metrics.csv"));
            int loss = lines[0].Split(',').ToList().IndexOf("loss");
            var losses = lines.Skip(1).Select(l => double.Parse(l.Split(',')[loss], CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(2, losses.Length);
            Assert.True(losses[1] < losses[0], $"{model}: training loss did not decrease ({losses[0]} → {losses[1]})");

            var weights = Path.Combine(run, "model.safetensors");
            var (_, spec) = ModelLoader.Load(weights);
            Assert.Equal(architecture, spec.Architecture);
            Assert.Contains("IoU", Ok("eval", run, "--data", data).Stdout, StringComparison.OrdinalIgnoreCase);
            Ok("predict", "--weights", weights, Path.Combine(data, "images"), "--out", run + "-pred");
            Assert.Equal(Directory.GetFiles(Path.Combine(data, "images")).Length, Directory.GetFiles(run + "-pred", "*.png").Length);

            var other = model == "unet" ? "unext" : "unet";
            var refused = CliRunner.Run("predict", "--weights", weights, Path.Combine(data, "images"), "--out", run + "-other", "--model", other);
            Assert.Equal(2, refused.Code);
            Assert.Contains($"--model {other}", refused.Stderr);
            Assert.False(Directory.Exists(run + "-other"));

            // Exported to ONNX, the file predicts the same images through ONNX Runtime.
            var onnx = run + ".onnx";
            Ok("export", "onnx", "--weights", run, "--out", onnx);
            Ok("predict", "--engine", "onnx", "--weights", onnx, Path.Combine(data, "images"), "--out", run + "-onnx");
            Assert.Equal(Directory.GetFiles(Path.Combine(data, "images")).Length, Directory.GetFiles(run + "-onnx", "*.png").Length);
        }
        finally
        {
            foreach (var dir in new[] { run, run + "-pred", run + "-onnx" })
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            File.Delete(run + ".onnx");
        }
    }

    [Fact]
    public void Summary_prints_the_published_sizes_and_refuses_embed_dims_for_the_convolutional_unets()
    {
        var summary = Ok("model", "summary", "--model", "unetpp", "--size", "64");
        Assert.Contains("9,163,329", summary.Stdout);
        var refused = CliRunner.Run("model", "summary", "--model", "unet", "--preset", "tiny");
        Assert.Equal(2, refused.Code);
        Assert.Contains("--preset", refused.Stderr);
        Assert.Equal(2, CliRunner.Run("model", "summary", "--model", "unext", "--arch-options", """{"width":8}""").Code);
        Assert.Equal(2, CliRunner.Run("model", "summary", "--model", "attunet", "--mlp").Code);
    }
}
