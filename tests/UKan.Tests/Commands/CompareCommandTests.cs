using System.Text.Json;
using UKan.Data;
using static UKan.Tests.Commands.BadInputTests;

namespace UKan.Tests.Commands;

/// <summary><c>ukan compare</c> on two tiny runs trained on the same split (1 epoch, 32², tiny preset).</summary>
public class CompareCommandTests
{
    static readonly Lazy<(string Data, string A, string B)> Runs = new(() =>
    {
        var data = Dataset(n: 12);
        var (a, b) = (Temp(), Temp());
        foreach (var (run, seed) in new[] { (a, "1"), (b, "2") })
        {
            var r = CliRunner.Run(Train(data, run, "--seed", seed, "--data-seed", "3"));
            Assert.True(r.Code == 0, r.Stderr);
        }
        return (data, a, b);
    });

    [Fact]
    public void Two_runs_on_the_same_validation_images_give_a_table_and_files()
    {
        var (_, a, b) = Runs.Value;
        var output = Temp();
        var r = CliRunner.Run("compare", a, b, "--out", output, "--bootstrap", "500");
        Assert.True(r.Code == 0, r.Stderr + r.Stdout);
        Assert.Contains("wins/ties/losses", r.Stdout);
        foreach (var file in new[] { "compare.csv", "compare.md", "compare.json", "per_image.csv", "compare_iou.png", "compare_dice.png", "compare_hd95.png" })
            Assert.True(File.Exists(Path.Combine(output, file)), $"{file} missing");
        var validation = DataSplit.Load(Path.Combine(a, "split.json")).Validation;
        var csv = File.ReadAllLines(Path.Combine(output, "compare.csv"));
        Assert.Equal(4, csv.Length);                                           // header + iou, dice, hd95
        Assert.StartsWith("model,reference,metric", csv[0]);
        Assert.Equal(validation.Count + 1, File.ReadAllLines(Path.Combine(output, "per_image.csv")).Length);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "compare.json")));
        var first = json.RootElement.GetProperty("comparisons")[0];
        var stats = first.GetProperty("stats");
        Assert.Equal(validation.Count, stats.GetProperty("images").GetInt32());
        int wins = stats.GetProperty("wins").GetInt32(), ties = stats.GetProperty("ties").GetInt32(), losses = stats.GetProperty("losses").GetInt32();
        Assert.Equal(validation.Count, wins + ties + losses);
        var interval = stats.GetProperty("interval");
        Assert.True(interval.GetProperty("low").GetDouble() <= interval.GetProperty("high").GetDouble());
        Assert.True(stats.GetProperty("wilcoxon").TryGetProperty("p_value", out _));

        // The table's statistics are those of the per-image scores it wrote (model − reference, image by image).
        var perImage = File.ReadAllLines(Path.Combine(output, "per_image.csv"));
        Assert.StartsWith("id,iou:", perImage[0]);
        var differences = perImage.Skip(1).Select(l => l.Split(','))
            .Select(c => double.Parse(c[2], System.Globalization.CultureInfo.InvariantCulture) - double.Parse(c[1], System.Globalization.CultureInfo.InvariantCulture))
            .ToArray();
        Assert.Equal(differences.Average(), stats.GetProperty("difference").GetProperty("mean").GetDouble(), 1e-12);
        var wilcoxon = UKan.Evaluation.Statistics.WilcoxonSignedRank.Test(differences);
        Assert.Equal(wilcoxon.Pairs, stats.GetProperty("wilcoxon").GetProperty("pairs").GetInt32());

        // A second time into the same folder needs --overwrite.
        AssertRefused(CliRunner.Run("compare", a, b, "--out", output), "--overwrite");
    }

    [Fact]
    public void The_same_run_given_twice_is_refused()
    {
        var (data, a, _) = Runs.Value;
        var r = CliRunner.Run("compare", a, a, "--data", data);
        AssertRefused(r, "given twice");
    }

    [Fact]
    public void Runs_validated_on_different_images_are_refused_unless_one_set_is_named()
    {
        var (data, a, _) = Runs.Value;
        var other = Temp();
        Assert.Equal(0, CliRunner.Run(Train(data, other, "--data-seed", "4")).Code);
        AssertRefused(CliRunner.Run("compare", a, other, "--metric", "iou"), "same images");
        // Scoring both on one named set works.
        var r = CliRunner.Run("compare", a, other, "--metric", "iou", "--split", Path.Combine(a, "split.json"), "--bootstrap", "200");
        Assert.True(r.Code == 0, r.Stderr + r.Stdout);
    }

    [Theory]
    [InlineData("metric")]
    [InlineData("single")]
    [InlineData("out-in-run")]
    [InlineData("not-a-run")]
    [InlineData("bootstrap")]
    [InlineData("out-holds-run")]
    public void Bad_inputs_are_refused(string what)
    {
        var (data, a, b) = Runs.Value;
        var output = Temp();
        var (args, mentions) = what switch
        {
            "metric" => (new[] { "compare", a, b, "--metric", "iou,auc", "--out", output }, "--metric"),
            "single" => (["compare", a], "at least two"),
            "out-in-run" => (["compare", a, b, "--out", Path.Combine(a, "cmp")], "--out"),
            "not-a-run" => (["compare", a, data], data),
            "bootstrap" => (["compare", a, b, "--bootstrap", "5", "--out", output], "--bootstrap"),
            _ => (["compare", a, b, "--out", Path.GetDirectoryName(a)!], "holds the input"),
        };
        AssertRefused(CliRunner.Run(args), mentions);
        Assert.False(Directory.Exists(output));
        Assert.False(Directory.Exists(Path.Combine(a, "cmp")));
    }
}
