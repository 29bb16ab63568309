using UKan.Data;
using UKan.IO;
using static UKan.Tests.Commands.BadInputTests;

namespace UKan.Tests.Commands;

/// <summary>
/// Commands that write must never destroy what the user has: no output into an input's folder or its dataset, no
/// file replaced without --overwrite, no run folder used by two processes, no half-made run or copy left by a failure.
/// </summary>
public class OutputSafetyTests
{
    static Dictionary<string, byte[]> Snapshot(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);

    static void AssertUnchanged(Dictionary<string, byte[]> before)
    {
        foreach (var (file, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(file));
    }

    static string Model() => Path.Combine(TrainedRun().Run, "model.safetensors");

    /// <summary>A copy of a run folder (its lock left out), for a test that writes into a run that others only read.</summary>
    static string CopyOf(string run)
    {
        var copy = Temp();
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(run, "*", SearchOption.AllDirectories).Where(f => Path.GetFileName(f) != RunLock.FileName))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(run, f));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(f, target);
        }
        return copy;
    }

    [Fact]
    public void Predict_into_its_input_folder_is_refused()
    {
        var data = Dataset(n: 2);
        var images = Path.Combine(data, "images");
        var before = Snapshot(data);
        AssertRefused(Run("predict", "--weights", Model(), images, "--out", images), "holds the input");
        AssertUnchanged(before);
        Assert.Equal(before.Count, Directory.GetFiles(data, "*", SearchOption.AllDirectories).Length);
    }

    /// <summary>
    /// Two predicts into one --out both passed the check for existing files before either wrote, and each replaced the
    /// other's masks; the folder is now locked while a command writes in it, and the files are checked again under the lock.
    /// </summary>
    [Fact]
    public void Predict_into_a_folder_another_process_writes_is_refused()
    {
        var data = Dataset(n: 2);
        var output = Directory.CreateDirectory(Temp()).FullName;
        // The lock of a running process: this one's PID, taken now.
        File.WriteAllText(Path.Combine(output, RunLock.FileName), $"{Environment.ProcessId} {Environment.MachineName} {DateTime.UtcNow:O}\n");
        AssertRefused(Run("predict", "--weights", Model(), Path.Combine(data, "images"), "--out", output), "in use by another ukan process");
        Assert.Equal([RunLock.FileName], Directory.GetFileSystemEntries(output).Select(Path.GetFileName));
        File.Delete(Path.Combine(output, RunLock.FileName));
        Assert.Equal(0, Run("predict", "--weights", Model(), Path.Combine(data, "images"), "--out", output).Code);
        Assert.Equal(["case000.png", "case001.png"], Directory.GetFileSystemEntries(output).Select(Path.GetFileName).Order());   // lock released
    }

    [Fact]
    public void Predict_into_the_ground_truth_masks_is_refused()
    {
        var data = Dataset(n: 2);
        var before = Snapshot(data);
        AssertRefused(Run("predict", "--weights", Model(), Path.Combine(data, "images"), "--out", Path.Combine(data, "masks", "0"), "--overwrite"), "inside the dataset");
        AssertUnchanged(before);
    }

    /// <summary>
    /// Predicting other images (here a copy outside the dataset) into the dataset the model's run trained on would add
    /// to, or with --overwrite replace, its ground truth: refused, whatever the images.
    /// </summary>
    [Fact]
    public void Predict_into_the_dataset_the_model_trained_on_is_refused()
    {
        var (run, data) = TrainedRun();
        var elsewhere = Temp();
        Directory.CreateDirectory(elsewhere);
        var image = Directory.GetFiles(Path.Combine(data, "images"))[0];
        File.Copy(image, Path.Combine(elsewhere, Path.GetFileName(image)));
        var before = Snapshot(data);
        AssertRefused(Run("predict", "--weights", run, elsewhere, "--out", Path.Combine(data, "masks", "0"), "--overwrite"), "inside the dataset");
        AssertRefused(Run("predict", "--weights", run, elsewhere, "--out", Path.Combine(data, "predicted")), "inside the dataset");
        AssertUnchanged(before);
        Assert.False(Directory.Exists(Path.Combine(data, "predicted")));
    }

    [Fact]
    public void Predict_replaces_earlier_masks_only_with_overwrite()
    {
        var image = SyntheticImage();
        var output = Temp();
        Assert.Equal(0, Run("predict", "--weights", Model(), image, "--out", output).Code);
        var before = Snapshot(output);
        AssertRefused(Run("predict", "--weights", Model(), image, "--out", output), "--overwrite");
        AssertUnchanged(before);
        Assert.Equal(0, Run("predict", "--weights", Model(), image, "--out", output, "--overwrite").Code);
    }

    [Fact]
    public void Predict_accepts_a_run_folder_as_weights()
    {
        var output = Temp();
        Assert.Equal(0, Run("predict", "--weights", TrainedRun().Run, SyntheticImage(), "--out", output).Code);
        Assert.True(File.Exists(Path.Combine(output, "case000.png")));
    }

    [Fact]
    public void Compare_and_plot_into_the_dataset_the_runs_trained_on_are_refused()
    {
        // Without --data both score the runs' own dataset: it is an input, as --data D would be.
        var (run, data) = TrainedRun();
        var copy = CopyOf(run);
        var before = Snapshot(data);
        AssertRefused(Run("compare", run, copy, "--out", data), "holds the input");
        AssertRefused(Run("plot", "kan", "--weights", run, "--out", data), "holds the input");
        AssertUnchanged(before);
        Assert.Equal(before.Count, Directory.GetFiles(data, "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void Sweep_into_a_run_folder_is_refused()
    {
        var (run, data) = TrainedRun();
        var before = Snapshot(run);
        AssertRefused(Run("sweep", "--data", data, "--out", run, "--preset", "tiny", "--seeds", "1", "--epochs", "1"), "holds a segmentation run");
        AssertUnchanged(before);
        Assert.Equal(before.Count, Directory.GetFiles(run, "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void Eval_outputs_inside_the_evaluated_dataset_are_refused_even_with_overwrite()
    {
        var (run, _) = TrainedRun();
        var data = Dataset(n: 4);
        var before = Snapshot(data);
        var image = Path.Combine(data, "images", "case000.png");
        AssertRefused(Run("eval", run, "--data", data, "--csv", image, "--overwrite"), "inside the dataset");
        AssertRefused(Run("eval", run, "--data", data, "--json", Path.Combine(data, "masks", "0", "case001.png"), "--overwrite"), "inside the dataset");
        AssertRefused(Run("eval", run, "--data", data, "--csv", Path.Combine(data, "scores.csv")), "inside the dataset");
        AssertUnchanged(before);
        Assert.Equal(before.Count, Directory.GetFiles(data, "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public void Diffusion_eval_scores_inside_the_image_folders_are_refused_even_with_overwrite()
    {
        var generated = Dataset(n: 2);   // any folder with files in it stands for a folder of images
        var images = Path.Combine(generated, "images");
        var before = Snapshot(generated);
        var target = Directory.GetFiles(images)[0];
        AssertRefused(Run("diffusion", "eval", "--generated", images, "--is-weights", Temp() + ".pth", "--out", target, "--overwrite"),
            "inside the input folder");
        AssertRefused(Run("diffusion", "eval", "--generated", Temp(), "--real", images, "--fid-weights", Temp() + ".pth",
            "--out", Path.Combine(images, "scores.json")), "inside the input folder");
        AssertUnchanged(before);
    }

    /// <summary>
    /// export onnx reads the run its weights sit in (the settings in config.json) and knows the data the run trained on:
    /// the export never lands on the checkpoint it reads, in the run's own files and folders (checkpoints/last.safetensors
    /// is what --resume reads), nor in the dataset, --overwrite or not. Beside the model, in the run folder, it may.
    /// </summary>
    [Fact]
    public void Export_over_its_checkpoint_in_its_run_or_in_the_runs_dataset_is_refused_even_with_overwrite()
    {
        var (shared, data) = TrainedRun();
        var run = CopyOf(shared);   // the run's config still names the shared dataset
        var best = Path.Combine(run, "checkpoints", "best.safetensors");
        var before = Snapshot(run).Concat(Snapshot(data)).ToDictionary();
        int Files() => new[] { run, data }.Sum(d => Directory.GetFiles(d, "*", SearchOption.AllDirectories).Length);
        string[] Export(string weights, string output) => ["export", "onnx", "--weights", weights, "--out", output, "--overwrite"];
        AssertRefused(Run(Export(best, best)), "is an input of this command");
        AssertRefused(Run(Export(run, Path.Combine(run, "model.safetensors"))), "is an input of this command");
        AssertRefused(Run(Export(best, Path.Combine(run, "checkpoints", "last.safetensors"))), "lies in checkpoints/ of the run");
        AssertRefused(Run(Export(run, Path.Combine(run, "checkpoints", "model.onnx"))), "lies in checkpoints/ of the run");
        AssertRefused(Run(Export(best, Path.Combine(run, "config.json"))), "is an input of this command");
        AssertRefused(Run(Export(run, Path.Combine(run, "dataset_fingerprint.json"))), "is a file of the run");
        AssertRefused(Run(Export(run, Path.Combine(data, "images", "case000.png"))), "inside the dataset");
        AssertRefused(Run(Export(best, Path.Combine(data, "masks", "0", "model.onnx"))), "inside the dataset");
        AssertRefused(Run(Export(run, Path.Combine(data, "model.onnx"))), "inside the dataset");
        AssertUnchanged(before);
        Assert.Equal(before.Count, Files());
        var beside = Run(Export(run, Path.Combine(run, "model.onnx")));
        Assert.True(beside.Code == 0, beside.Stderr);
        Assert.True(File.Exists(Path.Combine(run, "model.onnx")));
        AssertUnchanged(before);
    }

    [Fact]
    public void Eval_csv_over_the_model_is_refused()
    {
        var (run, _) = TrainedRun();
        var before = File.ReadAllBytes(Model());
        AssertRefused(Run("eval", run, "--csv", Model(), "--overwrite"), "input");
        Assert.Equal(before, File.ReadAllBytes(Model()));
        AssertRefused(Run("eval", run, "--json", Path.Combine(run, "metrics.csv"), "--overwrite"), "file of the run");
    }

    [Fact]
    public void Eval_json_over_an_existing_file_needs_overwrite()
    {
        var (run, _) = TrainedRun();
        var json = Temp() + ".json";
        File.WriteAllText(json, "mine");
        AssertRefused(Run("eval", run, "--json", json), "--overwrite");
        Assert.Equal("mine", File.ReadAllText(json));
    }

    [Fact]
    public void Outputs_that_cannot_be_written_are_refused_before_any_work()
    {
        var (run, _) = TrainedRun();
        var folder = Temp();
        Directory.CreateDirectory(folder);
        var file = Temp() + ".txt";
        File.WriteAllText(file, "");
        AssertRefused(Run("eval", run, "--json", folder), "is a folder");
        AssertRefused(Run("eval", run, "--json", "/proc/self/ukan.json"), "/proc/self/ukan.json");
        AssertRefused(Run("predict", "--weights", Model(), SyntheticImage(), "--out", file), "is a file");
        AssertRefused(Run("bench", "--preset", "tiny", "--size", "32", "--json", folder), "is a folder");
        AssertRefused(Run("diffusion", "generate", "--weights", Model(), "--out", file), "is a file");
        AssertRefused(Run("data", "resize", Dataset(n: 2), file), "is a file");
        AssertRefused(Run("data", "resize", Dataset(n: 2), "/proc/self/ukan-copy"), "/proc/self/ukan-copy");
    }

    [Fact]
    public void Train_into_a_folder_that_is_not_a_run_is_refused()
    {
        var folder = Temp();
        Directory.CreateDirectory(folder);
        var mine = Path.Combine(folder, "model.safetensors");
        File.WriteAllText(mine, "my model");
        AssertRefused(Run(Train(Dataset(), folder)), "not a ukan run folder");
        Assert.Equal("my model", File.ReadAllText(mine));
        Assert.Single(Directory.GetFileSystemEntries(folder));
    }

    [Fact]
    public void A_failed_start_leaves_no_run_folder()
    {
        var output = Temp();
        AssertRefused(Run(Train(Dataset(n: 6), output).Select(a => a == "2" ? "64" : a).ToArray()), "--batch 64");
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void A_locked_run_folder_is_refused()
    {
        var (run, _) = TrainedRun();
        using (RunLock.Acquire(run, "test"))
            AssertRefused(Run("train", "--resume", run, "--epochs", "2"), "in use by another ukan process");
        var fresh = Temp();
        Directory.CreateDirectory(fresh);
        using (RunLock.Acquire(fresh, "test"))
            AssertRefused(Run(Train(Dataset(), fresh)), "in use by another ukan process");
        Assert.False(File.Exists(Path.Combine(fresh, "config.json")));
    }

    [Fact]
    public void A_stale_lock_and_an_orphaned_temporary_checkpoint_are_cleared_on_resume()
    {
        var output = Temp();
        Assert.Equal(0, Run(Train(Dataset(), output)).Code);
        Assert.True(File.Exists(Path.Combine(output, RunDirectory.MarkerName)));
        Assert.False(File.Exists(Path.Combine(output, RunLock.FileName)), "the lock outlived the run");
        // What kill -9 leaves: a lock whose process is gone, and AtomicFile's temporary file.
        int dead = Enumerable.Range(3_000_000, 1000).First(p => { try { System.Diagnostics.Process.GetProcessById(p).Dispose(); return false; } catch (ArgumentException) { return true; } });
        File.WriteAllText(Path.Combine(output, RunLock.FileName), $"{dead} {Environment.MachineName} {DateTime.UtcNow:O}\n");
        var orphan = Path.Combine(output, "checkpoints", $".last.safetensors.{dead}.0123456789abcdef.tmp");
        File.WriteAllBytes(orphan, new byte[100]);
        Assert.Equal(0, Run("train", "--resume", output, "--epochs", "2").Code);
        Assert.False(File.Exists(orphan), "the orphaned temporary file was not removed");
        Assert.False(File.Exists(Path.Combine(output, RunLock.FileName)));
    }

    [Fact]
    public void A_corrupt_image_in_data_resize_leaves_no_partial_copy()
    {
        var data = Dataset(n: 4, edit: d => File.WriteAllBytes(Path.Combine(d, "images", "case002.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]));
        var output = Temp();
        AssertRefused(Run("data", "resize", data, output, "--size", "32"), "case002");
        Assert.False(Directory.Exists(output), "a partial copy was left behind");
    }
}
