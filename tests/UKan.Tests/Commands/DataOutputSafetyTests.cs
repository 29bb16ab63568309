using UKan.Data;
using UKan.IO;
using static UKan.Tests.Commands.BadInputTests;

namespace UKan.Tests.Commands;

/// <summary>
/// The data verbs (prepare, resize, subset) and diffusion prepare: no output inside an input folder, and no half-written
/// dataset after a failure, a Ctrl-C or a kill; the output folder appears only complete, and a rerun works.
/// </summary>
public class DataOutputSafetyTests
{
    static string[] Entries(string dir) => Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void Outputs_inside_the_input_are_refused()
    {
        var data = Dataset(n: 2);
        var before = Entries(data);
        AssertRefused(Run("data", "resize", data, Path.Combine(data, "small"), "--size", "32"), "inside the dataset");
        AssertRefused(Run("data", "subset", data, Path.Combine(data, "images", "few"), "--count", "1"), "inside the dataset");
        AssertRefused(Run("diffusion", "prepare", "--data", data, "--out", Path.Combine(data, "p64")), "inside the dataset");
        AssertRefused(Run("diffusion", "train", "--data", data, "--out", Path.Combine(data, "run"), "--epochs", "1", "--batch", "2"),
            "inside the dataset");
        Assert.Equal(before, Entries(data));
        Assert.Equal(2, Directory.GetFiles(Path.Combine(data, "images")).Length);

        // A plain folder of images: a folder written into it would be read as part of it next time.
        var images = Path.Combine(data, "images");
        AssertRefused(Run("diffusion", "prepare", "--data", images, "--out", Path.Combine(images, "p64")), "inside the input folder");
        Assert.Equal(2, Directory.GetFileSystemEntries(images).Length);
    }

    [Fact]
    public void A_stopped_copy_leaves_nothing_and_the_rerun_works()
    {
        var data = Dataset(n: 3);
        var parent = Directory.CreateDirectory(Temp()).FullName;
        var output = Path.Combine(parent, "copy");
        using (var stopped = new CancellationTokenSource())
        {
            stopped.Cancel();   // as the first Ctrl-C does, through the command's stop token
            Assert.ThrowsAny<OperationCanceledException>(() => DatasetResize.Run(data, output, 32, 32, null, stopped.Token));
            Assert.ThrowsAny<OperationCanceledException>(() => DatasetSubset.Create(data, output, 2, cancel: stopped.Token));
        }
        Assert.False(Directory.Exists(output));
        Assert.Empty(Directory.GetFileSystemEntries(parent));   // nor a staging folder

        // A process killed half-way (no chance to clean up) leaves only its hidden staging folder; the rerun removes it.
        var killed = Path.Combine(parent, $".copy.ukan-partial.{Environment.MachineName}.{int.MaxValue}.0");
        Directory.CreateDirectory(Path.Combine(killed, "images"));
        File.WriteAllBytes(Path.Combine(killed, "images", "case000.png"), [1]);
        var r = Run("data", "resize", data, output, "--size", "32");
        Assert.Equal(0, r.Code);
        Assert.Equal(["copy"], Entries(parent));
        Assert.Equal(3, Directory.GetFiles(Path.Combine(output, "images")).Length);
        Assert.Equal(3, Directory.GetFiles(Path.Combine(output, "masks", "0")).Length);
        Assert.Equal(0, Run("data", "check", output).Code);
    }

    [Fact]
    public void A_failing_copy_leaves_the_empty_folder_it_was_given()
    {
        var data = Dataset(n: 3, edit: d => File.WriteAllBytes(Path.Combine(d, "images", "case002.png"), [1, 2, 3]));
        var output = Temp();
        Directory.CreateDirectory(output);
        AssertRefused(Run("data", "resize", data, output, "--size", "32"), "case002");
        Assert.Empty(Directory.GetFileSystemEntries(output));
        Assert.Empty(Directory.GetFileSystemEntries(Path.GetDirectoryName(output)!, Path.GetFileName(output) + ".ukan-partial*"));
    }

    [Fact]
    public void Two_copies_into_one_folder_keep_the_first_and_refuse_the_second()
    {
        var data = Dataset(n: 2);
        var output = Temp();
        using var first = FreshFolder.Create(output, "output folder", [data]);
        using var second = FreshFolder.Create(output, "output folder", [data]);
        File.WriteAllText(Path.Combine(first.Staging, "first"), "1");
        File.WriteAllText(Path.Combine(second.Staging, "second"), "2");
        first.Commit();
        var e = Assert.Throws<UserError>(second.Commit);
        Assert.Contains("another process filled it", e.Message);
        second.Dispose();
        Assert.Equal(["first"], Entries(output));
        Assert.Equal([Path.GetFileName(output)], Entries(Path.GetDirectoryName(output)!).Where(n => n.Contains(Path.GetFileName(output))));
    }
}
