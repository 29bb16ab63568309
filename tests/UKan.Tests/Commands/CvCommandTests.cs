using System.Text.Json;
using UKan.Data;
using UKan.Training;
using static UKan.Tests.Commands.BadInputTests;

namespace UKan.Tests.Commands;

/// <summary><c>ukan cv</c> on a tiny synthetic set (12 images at 32², 2 folds, 1 epoch each).</summary>
public class CvCommandTests
{
    internal static string[] Cv(string data, string output, params string[] extra) =>
        ["cv", "--data", data, "--out", output, "--folds", "2", "--test-fraction", "0.25", "--preset", "tiny", "--size", "32",
         "--epochs", "1", "--batch", "2", "--data-seed", "5", .. extra];

    [Fact]
    public void Two_folds_score_the_held_out_test_set_and_a_second_call_skips_finished_folds()
    {
        var data = Dataset(n: 12);
        var output = Temp();
        var first = CliRunner.Run(Cv(data, output));
        Assert.True(first.Code == 0, first.Stderr + first.Stdout);
        foreach (var file in new[] { "cv.json", "splits.json", "cv_summary.json", "cv_summary.csv", "cv_summary.md", "fold-0/model.safetensors",
                     "fold-1/model.safetensors", "fold-1/split.json", "scores/ensemble_test_per_image.csv", "scores/fold-0_test_per_image.csv",
                     "scores/fold-1_validation_per_image.csv" })
            Assert.True(File.Exists(Path.Combine(output, file)), $"{file} missing");

        // Test images are in no fold; the folds' validation parts are disjoint and cover the rest.
        var splits = CrossValidationSplit.Load(Path.Combine(output, "splits.json"));
        Assert.Equal(3, splits.Test.Count);                                    // ceil(0.25 · 12)
        Assert.Equal(2, splits.Folds.Count);
        foreach (var fold in splits.Folds)
        {
            Assert.Empty(fold.Train.Intersect(splits.Test));
            Assert.Empty(fold.Validation.Intersect(splits.Test));
            Assert.Empty(fold.Train.Intersect(fold.Validation));
            Assert.Equal(9, fold.Train.Count + fold.Validation.Count);
        }
        Assert.Empty(splits.Folds[0].Validation.Intersect(splits.Folds[1].Validation));
        // Each fold trained on the split it was given.
        Assert.Equal(splits.Folds[1].Validation, DataSplit.Load(Path.Combine(output, "fold-1", "split.json")).Validation);

        // The ensemble scored every test image once; the summary is snake_case JSON with per-fold and pooled parts.
        var ensembleRows = File.ReadAllLines(Path.Combine(output, "scores", "ensemble_test_per_image.csv")).Skip(1).Select(l => l.Split(',')[0]).ToList();
        Assert.Equal(splits.Test.Order(), ensembleRows.Order());
        using (var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "cv_summary.json"))))
        {
            var root = summary.RootElement;
            Assert.Equal(2, root.GetProperty("per_fold").GetArrayLength());
            Assert.Equal(3, root.GetProperty("ensemble_test").GetProperty("official").GetProperty("images").GetInt32());
            Assert.Equal(9, root.GetProperty("pooled_validation").GetProperty("images").GetInt32());
            Assert.InRange(root.GetProperty("ensemble_test").GetProperty("per_image").GetProperty("iou").GetProperty("mean").GetDouble(), 0, 1);
        }
        Assert.Contains("ensemble", first.Stdout);

        // Again with the same options: nothing is retrained.
        var checkpoint = Path.Combine(output, "fold-0", "checkpoints", "last.safetensors");
        var written = File.GetLastWriteTimeUtc(checkpoint);
        var second = CliRunner.Run(Cv(data, output));
        Assert.True(second.Code == 0, second.Stderr + second.Stdout);
        Assert.Equal(2, second.Stdout.Split('\n').Count(l => l.Contains("finished earlier, skipped")));
        Assert.Equal(written, File.GetLastWriteTimeUtc(checkpoint));

        // A fold that is gone (or never finished) is trained again; the finished one is kept.
        Directory.Delete(Path.Combine(output, "fold-1"), recursive: true);
        var third = CliRunner.Run(Cv(data, output));
        Assert.True(third.Code == 0, third.Stderr + third.Stdout);
        Assert.Single(third.Stdout.Split('\n'), l => l.Contains("finished earlier, skipped"));
        Assert.True(File.Exists(Path.Combine(output, "fold-1", "model.safetensors")));
        Assert.Equal(written, File.GetLastWriteTimeUtc(checkpoint));

        // Other settings are refused, not mixed into the same cv.
        AssertRefused(CliRunner.Run(Cv(data, output, "--lr", "0.002")), "other settings");
        // A cv folder is a model for compare (the ensemble of its folds, on its test images); here against its own
        // fold 0 on those test images, named by the cv's splits.json.
        var compare = CliRunner.Run("compare", output, Path.Combine(output, "fold-0"), "--split", Path.Combine(output, "splits.json"),
            "--metric", "iou", "--bootstrap", "200");
        Assert.True(compare.Code == 0, compare.Stderr + compare.Stdout);
        Assert.Contains("ensemble of 2 folds", compare.Stdout);
        Assert.Contains("3 images", compare.Stdout);
    }

    [Theory]
    [InlineData("--folds", "1", "--folds")]
    [InlineData("--test-fraction", "0", "--test-fraction")]
    [InlineData("--test-fraction", "1", "--test-fraction")]
    [InlineData("--test-fraction", "NaN", "--test-fraction")]
    [InlineData("--folds", "20", "--folds")]
    [InlineData("--batch", "6", "--batch")]
    public void Bad_settings_are_refused_before_anything_is_written(string option, string value, string mentions)
    {
        var output = Temp();
        var args = Cv(Dataset(n: 12), output).ToList();
        int at = args.IndexOf(option);
        if (at >= 0) args[at + 1] = value; else args.AddRange([option, value]);
        AssertRefused(CliRunner.Run(args.ToArray()), mentions);
        Assert.False(Directory.Exists(output), "a refused cv left its folder");
    }

    [Fact]
    public void Output_folder_that_holds_the_data_is_refused()
    {
        var data = Dataset(n: 12);
        AssertRefused(CliRunner.Run(Cv(data, Path.GetDirectoryName(data)!)), "holds the input");
    }

    [Fact]
    public void Split_file_with_a_test_image_in_a_fold_is_refused()
    {
        var data = Dataset(n: 12);
        var ids = new SegmentationFolder(data).Ids;
        var good = CrossValidationSplit.Make(ids, 1, 2, 0.25);
        var leaky = good with { Folds = [good.Folds[0] with { Train = [.. good.Folds[0].Train, good.Test[0]] }, good.Folds[1]] };
        var file = Temp() + ".json";
        leaky.Save(file);
        var output = Temp();
        AssertRefused(CliRunner.Run(["cv", "--data", data, "--out", output, "--split-file", file, "--preset", "tiny", "--size", "32", "--epochs", "1", "--batch", "2"]),
            "test image");
        Assert.False(Directory.Exists(output));
    }
}
