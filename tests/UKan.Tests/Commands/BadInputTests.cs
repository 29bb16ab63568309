using UKan.Data;
using UKan.IO;

namespace UKan.Tests.Commands;

/// <summary>
/// Inputs a user can get wrong: each must end with exit code 2 and one line on stderr that names the file or option
/// and says how to fix it, and must leave no half-written output behind.
/// </summary>
public class BadInputTests
{
    internal static CliOutcome Run(params string[] args) => CliRunner.Run(args);

    internal static void AssertRefused(CliOutcome r, string mentions)
    {
        Assert.Equal(2, r.Code);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var errorLine = Assert.Single(lines, l => l.StartsWith("ukan: error:"));
        Assert.Contains(mentions, errorLine);
        Assert.DoesNotContain("   at ", r.Stderr);   // no stack traces
    }

    internal static string Temp() => Path.Combine(Path.GetTempPath(), $"ukan-bad-{Guid.NewGuid():N}");

    /// <summary>A valid dataset of <paramref name="n"/> samples; <paramref name="edit"/> breaks it.</summary>
    internal static string Dataset(int n = 6, Action<string>? edit = null)
    {
        var dir = SyntheticDataset.Create(count: n, size: 32);
        edit?.Invoke(dir);
        return dir;
    }

    internal static string[] Train(string data, string output, params string[] extra) =>
        ["train", "--data", data, "--out", output, "--preset", "tiny", "--size", "32", "--epochs", "1", "--batch", "2", .. extra];

    static void AssertNoRun(string output) => Assert.False(File.Exists(Path.Combine(output, "config.json")), "a run folder was left behind");

    [Fact]
    public void A_run_of_another_kind_is_refused_before_anything_is_said()
    {
        var diffusion = Temp();
        Directory.CreateDirectory(diffusion);
        File.WriteAllText(Path.Combine(diffusion, UKan.IO.RunDirectory.MarkerName), "{\"kind\":\"diffusion\"}");
        var into = Run(Train(Dataset(), diffusion));
        AssertRefused(into, "holds a diffusion run");
        Assert.DoesNotContain("training ", into.Stdout);
        var resume = Run("train", "--resume", diffusion);
        AssertRefused(resume, "a diffusion run");
        Assert.DoesNotContain("resuming ", resume.Stdout);
        Assert.Equal([UKan.IO.RunDirectory.MarkerName], Directory.EnumerateFileSystemEntries(diffusion).Select(Path.GetFileName).ToArray());
    }

    [Fact]
    public void Missing_data_folder()
    {
        var output = Temp();
        AssertRefused(Run(Train("/nonexistent/busi", output)), "/nonexistent/busi");
        AssertNoRun(output);
    }

    [Fact]
    public void Image_without_mask()
    {
        var data = Dataset(edit: d => File.Delete(Path.Combine(d, "masks", "0", "case001.png")));
        var output = Temp();
        AssertRefused(Run(Train(data, output)), "data check");
        AssertNoRun(output);
    }

    [Fact]
    public void Mask_of_another_size()
    {
        var data = Dataset(edit: d => ImageFile.WritePng(Path.Combine(d, "masks", "0", "case002.png"), Raster.Create8(20, 16, 1)));
        AssertRefused(Run(Train(data, Temp())), "case002");
    }

    [Fact]
    public void Corrupt_png()
    {
        var data = Dataset(edit: d => File.WriteAllBytes(Path.Combine(d, "images", "case003.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4, 5]));
        AssertRefused(Run(Train(data, Temp())), "case003");
    }

    [Fact]
    public void Zero_byte_image()
    {
        var data = Dataset(edit: d => File.WriteAllBytes(Path.Combine(d, "images", "case000.png"), []));
        AssertRefused(Run(Train(data, Temp())), "case000");
    }

    [Fact]
    public void Empty_images_folder()
    {
        var data = Temp();
        Directory.CreateDirectory(Path.Combine(data, "images"));
        Directory.CreateDirectory(Path.Combine(data, "masks", "0"));
        AssertRefused(Run(Train(data, Temp())), data);
    }

    [Fact]
    public void Sixteen_bit_mask_with_other_values()
    {
        var data = Dataset(edit: d => ImageFile.WritePng(Path.Combine(d, "masks", "0", "case004.png"),
            Raster.Create16(32, 32, 1, Enumerable.Range(0, 1024).Select(i => (ushort)(i % 7 * 1000)).ToArray())));
        AssertRefused(Run(Train(data, Temp())), "case004");
    }

    [Fact]
    public void Unsupported_channel_count() => AssertRefused(Run(Train(Dataset(), Temp(), "--in-channels", "4")), "--in-channels");

    [Fact]
    public void Unknown_device() => AssertRefused(Run("info", "--device", "gpu"), "gpu");

    [Fact]
    public void Unknown_preset() => AssertRefused(Run(["model", "summary", "--preset", "huge"]), "--preset huge");

    [Fact]
    public void Size_not_a_multiple_of_32() => AssertRefused(Run(Train(Dataset(), Temp()).Select(a => a == "32" ? "50" : a).ToArray()), "--size 50");

    [Fact]
    public void Zero_epochs() => AssertRefused(Run(Train(Dataset(), Temp()).Select(a => a == "1" ? "0" : a).ToArray()), "--epochs 0");

    [Fact]
    public void Bf16_on_the_cpu()
    {
        var output = Temp();
        AssertRefused(Run(Train(Dataset(), output, "--device", "cpu", "--precision", "bf16")), "--precision bf16");
        AssertNoRun(output);
    }

    [Fact]
    public void Negative_learning_rate() => AssertRefused(Run(Train(Dataset(), Temp(), "--lr", "-1")), "--lr");

    [Fact]
    public void Malformed_embed_dims() => AssertRefused(Run("model", "summary", "--embed-dims", "1,2"), "--embed-dims");

    [Fact]
    public void Batch_larger_than_the_training_set() => AssertRefused(Run(Train(Dataset(n: 6), Temp()).Select(a => a == "2" ? "64" : a).ToArray()), "--batch 64");

    [Fact]
    public void Nan_loss_from_an_absurd_learning_rate()
    {
        var output = Temp();
        AssertRefused(Run("train", "--data", Dataset(n: 8), "--out", output, "--preset", "tiny", "--size", "32", "--epochs", "2", "--batch", "2",
            "--lr", "1e12", "--kan-lr", "1e12"), "lower them");
        // The loss diverged in the first epoch, so no checkpoint exists: the failed start leaves no run folder behind.
        Assert.False(Directory.Exists(output), "a failed start left its run folder");
    }

    [Fact]
    public void Existing_run_folder()
    {
        var data = Dataset();
        var output = Temp();
        Assert.Equal(0, Run(Train(data, output)).Code);
        AssertRefused(Run(Train(data, output)), "--resume");
    }

    [Fact]
    public void Resume_of_a_folder_without_a_run() => AssertRefused(Run("train", "--resume", Temp()), "--resume");

    [Fact]
    public void Truncated_checkpoint()
    {
        var (run, _) = TrainedRun();
        var bytes = File.ReadAllBytes(Path.Combine(run, "model.safetensors"));
        var truncated = Temp() + ".safetensors";
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var output = Temp();
        AssertRefused(Run("predict", "--weights", truncated, SyntheticImage(), "--out", output), truncated);
        Assert.False(Directory.Exists(output), "predict created its output folder before failing");
    }

    [Fact]
    public void Random_bytes_as_weights()
    {
        var junk = Temp() + ".safetensors";
        File.WriteAllBytes(junk, Enumerable.Range(0, 4096).Select(i => (byte)(i * 37)).ToArray());
        AssertRefused(Run("predict", "--weights", junk, SyntheticImage(), "--out", Temp()), junk);
    }

    [Fact]
    public void Checkpoint_for_another_preset()
    {
        var (run, _) = TrainedRun();
        AssertRefused(Run("predict", "--weights", Path.Combine(run, "model.safetensors"), "--preset", "paper", SyntheticImage(), "--out", Temp()), "another preset");
    }

    [Fact]
    public void Read_only_output_folder()
    {
        // procfs refuses new entries even to root, unlike chmod-ed folders.
        var (run, _) = TrainedRun();
        AssertRefused(Run("predict", "--weights", Path.Combine(run, "model.safetensors"), SyntheticImage(), "--out", "/proc/self/ukan-out"), "/proc/self/ukan-out");
    }

    [Fact]
    public void Missing_input_image()
    {
        var (run, _) = TrainedRun();
        AssertRefused(Run("predict", "--weights", Path.Combine(run, "model.safetensors"), "/nonexistent/x.png", "--out", Temp()), "/nonexistent/x.png");
    }

    [Theory]
    [InlineData(RunDirectory.Diffusion, "'ukan diffusion eval'")]
    [InlineData(RunDirectory.CrossValidation, "fold-0")]
    public void Eval_of_a_run_of_another_kind_says_what_it_is(string kind, string hint)
    {
        // A diffusion run's config.json holds other settings; it was reported as a damaged config.json.
        var folder = Temp();
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, RunDirectory.MarkerName), $"{{\"kind\":\"{kind}\"}}");
        File.WriteAllText(Path.Combine(folder, "config.json"), "{\"data\":\"/x\",\"model\":\"umlp\"}");
        AssertRefused(Run("eval", folder), hint);
    }

    [Fact]
    public void Corrupt_split_file()
    {
        var (run, data) = TrainedRun();
        var split = Temp() + ".json";
        File.WriteAllText(split, "{ not json");
        AssertRefused(Run("eval", Path.Combine(run, "model.safetensors"), "--data", data, "--split", split), split);
    }

    [Fact]
    public void Split_naming_other_samples()
    {
        var (run, _) = TrainedRun();
        var other = Dataset(n: 4, edit: d => { foreach (var f in Directory.GetFiles(d, "case00*", SearchOption.AllDirectories)) File.Move(f, f.Replace("case00", "other")); });
        AssertRefused(Run("eval", run, "--data", other), "split names");
    }

    [Fact]
    public void Wrong_raw_dataset_for_prepare() => AssertRefused(Run("data", "prepare", "busi", Dataset(), Temp()), "does not look like BUSI");

    [Fact]
    public void Diffusion_eval_without_inception_weights() =>
        AssertRefused(Run("diffusion", "eval", "--generated", Path.Combine(Dataset(n: 2), "images")), "pt_inception-2015-12-05-6726825d.pth");

    [Fact]
    public void Diffusion_eval_with_missing_weights_file() =>
        AssertRefused(Run("diffusion", "eval", "--generated", Path.Combine(Dataset(n: 2), "images"), "--is-weights", "/nonexistent/inception.pth"), "/nonexistent/inception.pth");

    [Fact]
    public void Diffusion_generate_from_segmentation_weights()
    {
        var (run, _) = TrainedRun();
        AssertRefused(Run("diffusion", "generate", "--weights", Path.Combine(run, "model.safetensors"), "--out", Temp()), "segmentation weights");
    }

    [Fact]
    public void Diffusion_generate_from_a_folder_without_weights() =>
        AssertRefused(Run("diffusion", "generate", "--weights", Dataset(n: 2), "--out", Temp()), "neither model.safetensors");

    [Fact]
    public void Diffusion_train_with_resume_and_data()
    {
        var output = Temp();
        AssertRefused(Run("diffusion", "train", "--resume", output, "--data", Dataset(n: 2)), "--resume");
    }

    static string? trainedRun, trainedData;

    [Fact]
    public void Selftest_with_a_missing_fixtures_folder() =>
        AssertRefused(Run("selftest", "--device", "cpu", "--fixtures", "/nonexistent/fixtures"), "/nonexistent/fixtures");

    /// <summary>One tiny trained run shared by the weight-file cases.</summary>
    internal static (string Run, string Data) TrainedRun()
    {
        if (trainedRun is null)
        {
            trainedData = Dataset();
            trainedRun = Temp();
            Assert.Equal(0, Run(Train(trainedData, trainedRun)).Code);
        }
        return (trainedRun, trainedData!);
    }

    internal static string SyntheticImage() => Path.Combine(Dataset(n: 2), "images", "case000.png");
}
