using System.Buffers.Binary;
using UKan.Checkpoints;
using UKan.Data;
using static UKan.Tests.Commands.BadInputTests;

namespace UKan.Tests.Commands;

/// <summary>
/// Option values, damaged files of our own and contradictions a user can cause: each ends with exit code 2 and one
/// line naming the option or file, before anything is written.
/// </summary>
public class BadOptionTests
{
    static string Model() => Path.Combine(TrainedRun().Run, "model.safetensors");

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    public void Thread_count_out_of_range(string threads) => AssertRefused(Run("model", "summary", "--preset", "tiny", "--threads", threads), "--threads");

    [Theory]
    [InlineData("predict", "--weights")]
    [InlineData("predict", "--out")]
    [InlineData("predict", "<inputs>")]
    [InlineData("train", "--data")]
    [InlineData("compare", "--out")]
    public void Empty_values_are_refused(string verb, string empty)
    {
        // What "$UNSET_VARIABLE" gives; a path option used to end in an ArgumentException from Path.GetFullPath.
        var (run, _) = TrainedRun();
        var output = Temp();
        string[] args = verb switch
        {
            "predict" => ["predict", "--weights", empty == "--weights" ? "" : run, empty == "<inputs>" ? " " : SyntheticImage(),
                          "--out", empty == "--out" ? "" : output],
            "train" => Train("", output),
            _ => ["compare", run, run + "-copy", "--out", ""],
        };
        AssertRefused(Run(args), $"{empty}: an empty value");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void A_number_too_large_for_its_option_is_explained_in_words()
    {
        var r = Run("cv", "--data", Dataset(), "--out", Temp(), "--folds", "2147483648");
        AssertRefused(r, "as a whole number from -2147483648 to 2147483647");
        Assert.DoesNotContain("System.", r.Stderr);
    }

    [Theory]
    [InlineData("--lr", "NaN")]
    [InlineData("--batch", "0")]
    [InlineData("--size", "63")]
    [InlineData("--split", "/nonexistent/split.json")]
    public void Sweep_checks_the_train_options_before_starting_runs(string option, string value)
    {
        // Each run is a 'ukan train' process; a bad value used to fail every one of them (exit 1, logs and folders left).
        var output = Temp();
        AssertRefused(Run("sweep", "--data", Dataset(), "--out", output, "--preset", "tiny", "--seeds", "1,2", "--epochs", "1", option, value), option);
        Assert.False(Directory.Exists(output), "the sweep made its folder before its options were checked");
    }

    [Fact]
    public void Cv_and_compare_refuse_softmax_models_in_one_line()
    {
        // Both score with sigmoid probabilities and masks/ folders; a ce-dice dataset was reported as lacking masks/0.
        var output = Temp();
        AssertRefused(Run("cv", "--data", Dataset(), "--out", output, "--preset", "tiny", "--size", "32", "--epochs", "1", "--batch", "2",
            "--classes", "3", "--loss", "ce-dice"), "--loss ce-dice");
        Assert.False(Directory.Exists(output));
        // A copy of a run whose settings say ce-dice: compare refuses it from config.json, before loading any model.
        var (run, _) = TrainedRun();
        var softmax = Temp();
        Directory.CreateDirectory(softmax);
        foreach (var f in new[] { UKan.IO.RunDirectory.MarkerName, "config.json", "split.json", "model.safetensors" })
            File.Copy(Path.Combine(run, f), Path.Combine(softmax, f));
        var config = Path.Combine(softmax, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"bce-dice\"", "\"ce-dice\"", StringComparison.Ordinal));
        AssertRefused(Run("compare", run, softmax), "ce-dice");
    }

    [Theory]
    [InlineData("stacked-kan", "{\"nosuch\":1}", "unknown key 'nosuch'")]
    [InlineData("unet", "{\"width\":\"x\"}", "width: not a value it takes")]
    [InlineData("allukan", "{\"activation\":{\"gradient\":\"zzz\"}}", "activation.gradient: not a value it takes")]
    public void Wrong_architecture_options_are_named_in_the_users_terms(string model, string json, string expected)
    {
        string[] sizing = model == "unet" ? [] : ["--preset", "tiny"];
        var r = Run(["model", "summary", "--model", model, .. sizing, "--arch-options", json]);
        AssertRefused(r, expected);
        Assert.DoesNotContain("System.", r.Stderr);
        Assert.DoesNotContain("UKan.", r.Stderr);
    }

    [Fact]
    public void Not_a_number_as_validation_fraction()
    {
        var output = Temp();
        AssertRefused(Run(Train(Dataset(), output, "--val-fraction", "NaN")), "--val-fraction");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Early_stopping_of_zero_epochs() => AssertRefused(Run(Train(Dataset(), Temp(), "--early-stopping", "0")), "--early-stopping");

    [Fact]
    public void Absurd_embed_dims() => AssertRefused(Run("model", "summary", "--embed-dims", "100000,8,8"), "--embed-dims");

    [Fact]
    public void Absurd_training_size() => AssertRefused(Run(Train(Dataset(), Temp()).Select(a => a == "32" ? "65536" : a).ToArray()), "--size");

    [Theory]
    [InlineData("predict", "--batch", "0")]
    [InlineData("eval", "--batch", "0")]
    [InlineData("bench", "--runs", "0")]
    [InlineData("bench", "--batch", "100000")]
    public void Counts_out_of_range(string verb, string option, string value)
    {
        string[] args = verb switch
        {
            "predict" => ["predict", "--weights", Model(), SyntheticImage(), "--out", Temp(), option, value],
            "eval" => ["eval", TrainedRun().Run, option, value],
            _ => ["bench", "--preset", "tiny", "--size", "32", option, value],
        };
        AssertRefused(Run(args), option);
    }

    [Theory]
    [InlineData("--sample-every", "0")]
    [InlineData("--sample-count", "0")]
    [InlineData("--sample-ddim-steps", "0")]
    public void Diffusion_sampling_options_are_checked_before_training(string option, string value)
    {
        var output = Temp();
        AssertRefused(Run("diffusion", "train", "--data", Dataset(n: 4), "--out", output, "--model", "umlp", "--batch", "2", "--epochs", "1", option, value), option);
        Assert.False(Directory.Exists(output), "a run folder was made before the options were checked");
    }

    [Fact]
    public void Options_beside_resume_are_refused_with_the_runs_value()
    {
        var (run, _) = TrainedRun();
        AssertRefused(Run("train", "--resume", run, "--batch", "4"), "has --batch 2");
        AssertRefused(Run("train", "--resume", run, "--preset", "paper"), "has --preset tiny");
    }

    [Fact]
    public void Options_contradicting_the_weights_file_are_refused()
    {
        AssertRefused(Run("predict", "--weights", Model(), "--classes", "2", SyntheticImage(), "--out", Temp()), "--classes 1");
        AssertRefused(Run("predict", "--weights", Model(), "--size", "64", SyntheticImage(), "--out", Temp()), "trained at 32x32");
    }

    [Fact]
    public void Damaged_config_on_resume_and_eval()
    {
        var run = Temp();
        Directory.CreateDirectory(Path.Combine(run, "checkpoints"));
        File.WriteAllText(Path.Combine(run, UKan.IO.RunDirectory.MarkerName), "{\"kind\":\"segmentation\"}");
        File.WriteAllText(Path.Combine(run, "config.json"), "{ \"data\": \"/x\", ");
        File.WriteAllText(Path.Combine(run, "checkpoints", "last.safetensors"), "x");
        File.Copy(Model(), Path.Combine(run, "model.safetensors"));
        AssertRefused(Run("train", "--resume", run), "config.json");
        AssertRefused(Run("eval", run), "config.json");
        File.WriteAllText(Path.Combine(run, "config.json"), "");
        AssertRefused(Run("train", "--resume", run), "config.json");
    }

    [Fact]
    public void Unreadable_model_metadata()
    {
        var (tensors, meta) = SafeTensors.Read(Model());
        var damaged = Temp() + ".safetensors";
        SafeTensors.Write(damaged, tensors.Select(kv => (kv.Key, kv.Value)), new Dictionary<string, string>(meta) { ["ukan.spec"] = "{\"embed_dims\": [32, 40" });
        AssertRefused(Run("predict", "--weights", damaged, SyntheticImage(), "--out", Temp()), "unreadable");
    }

    [Fact]
    public void Weights_holding_nan_are_warned_about()
    {
        var (tensors, meta) = SafeTensors.Read(Model());
        var first = tensors.Keys.Order(StringComparer.Ordinal).First(k => tensors[k].is_floating_point());
        tensors[first].fill_(double.NaN);
        var path = Temp() + ".safetensors";
        SafeTensors.Write(path, tensors.Select(kv => (kv.Key, kv.Value)), meta);
        var r = Run("predict", "--weights", path, SyntheticImage(), "--out", Temp());
        Assert.Equal(0, r.Code);
        Assert.Contains("ukan: warning:", r.Stderr);
        Assert.Contains("NaN", r.Stderr);
    }

    [Fact]
    public void A_pth_that_is_neither_zip_nor_safetensors()
    {
        var junk = Temp() + ".pth";
        File.WriteAllBytes(junk, Enumerable.Range(0, 4096).Select(i => (byte)(i * 37)).ToArray());
        AssertRefused(Run("predict", "--weights", junk, "--preset", "tiny", SyntheticImage(), "--out", Temp()), "neither a PyTorch checkpoint");
    }

    /// <summary>A PNG whose header declares <paramref name="side"/>² pixels, and nothing decodable after it (a few bytes on disk).</summary>
    static void WriteHugePng(string path, int side)
    {
        var bytes = new byte[64];
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, (byte)'I', (byte)'H', (byte)'D', (byte)'R' }.CopyTo(bytes, 0);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(16), (uint)side);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(20), (uint)side);
        bytes[24] = 8;
        File.WriteAllBytes(path, bytes);
    }

    [Fact]
    public void Enormous_images_are_refused_from_their_header()
    {
        var data = Dataset(n: 4, edit: d => WriteHugePng(Path.Combine(d, "images", "case001.png"), 30000));
        var check = Run("data", "check", data);
        Assert.Equal(2, check.Code);
        Assert.Contains("--max-pixels", check.Stdout);
        AssertRefused(Run(Train(data, Temp())), "case001");
        AssertRefused(Run("predict", "--weights", Model(), Path.Combine(data, "images", "case001.png"), "--out", Temp()),
            "30000x30000 = 900,000,000 pixels, more than the --max-pixels limit of 40,000,000");
        AssertRefused(Run("data", "check", data, "--max-pixels", "0"), "--max-pixels");
    }

    [Fact]
    public void A_tiny_pixel_limit_is_stated_in_pixels()
    {
        var data = Dataset(n: 2);
        long before = UKan.Data.ImageHeader.MaxPixels;
        try
        {
            var outcome = Run("predict", "--weights", Model(), Path.Combine(data, "images", "case001.png"), "--out", Temp(), "--max-pixels", "1");
            AssertRefused(outcome, "more than the --max-pixels limit of 1;");
        }
        finally { UKan.Data.ImageHeader.MaxPixels = before; }
    }

    [Fact]
    public void A_split_with_an_id_in_train_and_validation()
    {
        var (run, data) = TrainedRun();
        var split = Temp() + ".json";
        File.WriteAllText(split, "{\"seed\":1,\"validation_fraction\":0.2,\"train\":[\"case000\",\"case001\"],\"validation\":[\"case001\"]}");
        AssertRefused(Run("eval", run, "--data", data, "--split", split, "--csv", Temp() + ".csv"), "both train and validation");
    }

    [Fact]
    public void Data_check_of_a_file() => AssertRefused(Run("data", "check", SyntheticImage()), "is a file");
}
