using UKan.Data;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Commands;

public class MultiClassCommandTests
{
    static string Temp() => Path.Combine(Path.GetTempPath(), $"ukan-multiclass-{Guid.NewGuid():N}");

    static string Data() => MultiClassDemo.CoreAndRim(SyntheticDataset.Create(count: 4, size: 64), size: 64);

    /// <summary>A softmax model with random weights as a weights file (the spec records classes and loss).</summary>
    static string Weights(int classes = 3)
    {
        _ = TestTorch.Runtime;
        manual_seed(5);
        var spec = new ModelSpec { EmbedDims = [16, 24, 32], Preset = null, NumClasses = classes, Loss = SegmentationLoss.CeDice };
        var path = Temp() + ".safetensors";
        ModelExport.Save(path, ModelFactory.Create(spec), spec);
        return path;
    }

    static void Refused(CliOutcome r, string expected)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Stderr}{r.Stdout}");
        Assert.Contains(expected, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public void Data_check_reports_labels_outside_the_classes_as_errors()
    {
        var data = Data();
        Assert.Equal(0, CliRunner.Run("data", "check", data, "--classes", "3").Code);
        var path = Directory.GetFiles(Path.Combine(data, "labels"))[0];
        var map = ImageFile.Read(path);
        var pixels = (byte[])map.Pixels8.Clone();
        pixels[0] = 5;
        ImageFile.WritePng(path, Raster.Create8(map.Width, map.Height, 1, pixels));
        var r = CliRunner.Run("data", "check", data, "--classes", "3");
        Assert.Equal(2, r.Code);
        Assert.Contains("1 pixel(s) of class 5, outside 0..2", r.Stdout);
        Assert.Equal(0, CliRunner.Run("data", "check", data, "--classes", "6").Code);
        var error = Assert.Throws<UserError>(() => new SegmentationFolder(data, 3, labelMaps: true).LoadMask(Path.GetFileNameWithoutExtension(path)));
        Assert.Contains("holds class 5", error.Message);
    }

    [Fact]
    public void Palette_label_maps_are_read_as_indices_not_colours()
    {
        var root = Temp();
        Directory.CreateDirectory(Path.Combine(root, "images"));
        Directory.CreateDirectory(Path.Combine(root, "labels"));
        ImageFile.WritePng(Path.Combine(root, "images", "a.png"), Raster.Create8(6, 4, 3, new byte[6 * 4 * 3]));
        byte[] palette = [0, 0, 0, 128, 0, 0, 0, 128, 0];   // VOC colours of classes 0, 1, 2
        File.WriteAllBytes(Path.Combine(root, "labels", "a.png"), UKan.Tests.Data.TestFiles.RawPng(6, 4, 3, 8, (x, y, _) => (x + y) % 3, palette: palette));
        var labels = new SegmentationFolder(root, 3, labelMaps: true).LoadMask("a").Grey.Pixels8;
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (byte)((i % 6 + i / 6) % 3)), labels);
    }

    [Fact]
    public void Augmented_label_maps_stay_one_hot()
    {
        _ = TestTorch.Runtime;
        var data = Data();
        var folder = new SegmentationFolder(data, 3, labelMaps: true);
        // 64 → 96: nearest neighbour repeats labels; a linear resize would blend core, rim and background.
        var dataset = new SegmentationDataset(folder, 96, 96, PreprocessingPreset.Official);
        var batch = dataset.Batch(folder.Ids, i => AugmentChoice.Draw(SplitMix64.For(7, 0, i)));
        var t = tensor(batch.Targets).reshape(folder.Count, 3, 96, 96);
        Assert.True(t.sum(1).eq(1).all().item<bool>(), "every pixel in exactly one class");
        Assert.True((t.eq(0) | t.eq(1)).all().item<bool>(), "targets are 0/1");
        Assert.True(t[.., 2].sum().item<float>() > 0, "the rim class survives");
    }

    [Fact]
    public void Eval_and_predict_read_the_recorded_softmax_and_write_label_maps()
    {
        var data = Data();
        var weights = Weights();
        var csv = Temp() + ".csv";
        var r = CliRunner.Run("eval", weights, "--data", data, "--size", "64", "--csv", csv);
        Assert.True(r.Code == 0, r.Stderr + r.Stdout);
        Assert.Contains("softmax, ce-dice", r.Stdout);
        Assert.Contains("mean", r.Stdout);
        var lines = File.ReadAllLines(csv);
        Assert.StartsWith("class,", lines[0]);
        Assert.Equal(1 + 2 * 4, lines.Length);   // classes 1 and 2, four images each

        var output = Temp();
        r = CliRunner.Run("predict", "--weights", weights, Path.Combine(data, "images"), "--out", output, "--size", "64", "--colour", "--overlays");
        Assert.True(r.Code == 0, r.Stderr + r.Stdout);
        var first = Path.GetFileName(Directory.GetFiles(Path.Combine(data, "images"))[0]);
        var map = ImageFile.Read(Path.Combine(output, first));
        Assert.Equal(1, map.Channels);
        Assert.All(map.Pixels8, v => Assert.InRange(v, 0, 2));
        Assert.Equal(3, ImageFile.Read(Path.Combine(output, Path.GetFileNameWithoutExtension(first) + "_colour.png")).Channels);
        Assert.True(File.Exists(Path.Combine(output, Path.GetFileNameWithoutExtension(first) + "_overlay.png")));
    }

    [Fact]
    public void Options_that_contradict_the_recorded_classes_or_loss_are_refused()
    {
        var data = Data();
        var weights = Weights();
        var image = Directory.GetFiles(Path.Combine(data, "images"))[0];
        Refused(CliRunner.Run("predict", "--weights", weights, image, "--out", Temp(), "--loss", "bce-dice"), "--loss bce-dice");
        Refused(CliRunner.Run("predict", "--weights", weights, image, "--out", Temp(), "--classes", "4", "--loss", "ce-dice"), "--classes 4");
        Refused(CliRunner.Run("predict", "--weights", weights, image, "--out", Temp(), "--probabilities"), "--probabilities");
        Refused(CliRunner.Run("predict", "--weights", weights, image, "--out", Temp(), "--threshold", "0.3"), "--threshold");
        Refused(CliRunner.Run("train", "--data", data, "--out", Temp(), "--loss", "ce-dice"), "--classes 2 or more");
        Refused(CliRunner.Run("train", "--data", data, "--out", Temp(), "--classes", "3"), "--loss ce-dice");
    }
}
