using static UKan.Tests.Commands.BadInputTests;

namespace UKan.Tests.Commands;

/// <summary>
/// <c>ukan compare</c> of two <c>ukan cv</c> folders (2 folds, 1 epoch, 32², tiny preset, the same test images) from the
/// test scores they saved: the same numbers as scoring the fold models again, also once the weights are gone.
/// </summary>
public class CompareSavedScoresTests
{
    const string AllMetrics = "iou,dice,hd95,precision,recall,specificity";

    [Fact]
    public void Cv_folders_without_weights_compare_from_their_saved_scores_as_when_scored_again()
    {
        var data = Dataset(n: 12);
        var (a, b) = (Temp(), Temp());
        foreach (var (cv, seed) in new[] { (a, "1"), (b, "2") })
        {
            var r = CliRunner.Run(CvCommandTests.Cv(data, cv, "--seed", seed));
            Assert.True(r.Code == 0, r.Stderr + r.Stdout);
        }

        // Scored again: --split names the cv's test images, so every fold model is loaded and run (batch as cv's).
        var again = Temp();
        var scored = CliRunner.Run("compare", a, b, "--split", Path.Combine(a, "splits.json"), "--batch", "2", "--metric", AllMetrics,
            "--bootstrap", "500", "--out", again);
        Assert.True(scored.Code == 0, scored.Stderr + scored.Stdout);
        Assert.Contains("scoring 2 models", scored.Stdout);
        Assert.DoesNotContain("saved scores", scored.Stdout);

        // The weights are gone (a folder copied back from a GPU machine with only its small files).
        foreach (var cv in new[] { a, b })
            foreach (var fold in Directory.GetDirectories(cv, "fold-*"))
            {
                File.Delete(Path.Combine(fold, "model.safetensors"));
                Directory.Delete(Path.Combine(fold, "checkpoints"), recursive: true);
            }
        var saved = Temp();
        var fromSaved = CliRunner.Run("compare", a, b, "--metric", AllMetrics, "--bootstrap", "500", "--out", saved);
        Assert.True(fromSaved.Code == 0, fromSaved.Stderr + fromSaved.Stdout);
        Assert.Contains("from saved scores", fromSaved.Stdout);
        Assert.Contains("ensemble of 2 folds", fromSaved.Stdout);
        // Every statistic of every metric (HD95 included) and every per-image score are those of scoring again.
        Assert.Equal(File.ReadAllText(Path.Combine(again, "compare.csv")), File.ReadAllText(Path.Combine(saved, "compare.csv")));
        Assert.Equal(File.ReadAllText(Path.Combine(again, "per_image.csv")), File.ReadAllText(Path.Combine(saved, "per_image.csv")));
        Assert.Equal(7, File.ReadAllLines(Path.Combine(saved, "compare.csv")).Length);      // header + 6 metrics
        Assert.Contains("from saved scores", File.ReadAllText(Path.Combine(saved, "compare.json")));

        // Other images need the models, which are gone.
        AssertRefused(CliRunner.Run("compare", a, b, "--split", Path.Combine(a, "splits.json")), "no weights");

        // Saved scores of other images are not paired.
        var scores = Path.Combine(b, "scores", "ensemble_test_per_image.csv");
        var lines = File.ReadAllLines(scores);
        File.WriteAllLines(scores, lines[..^1]);
        AssertRefused(CliRunner.Run("compare", a, b, "--metric", "iou"), "same images");
        File.WriteAllLines(scores, lines);

        // Neither weights nor scores: nothing to compare.
        foreach (var cv in new[] { a, b }) File.Delete(Path.Combine(cv, "scores", "ensemble_test_per_image.csv"));
        var none = Temp();
        AssertRefused(CliRunner.Run("compare", a, b, "--out", none), "no saved scores");
        Assert.False(Directory.Exists(none));
    }
}
