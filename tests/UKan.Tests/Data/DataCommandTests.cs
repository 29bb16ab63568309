namespace UKan.Tests.Data;

public class DataCommandTests
{
    [Fact]
    public void Check_exits_two_on_errors_and_zero_otherwise()
    {
        using var d = new TempDir();
        d.Write("images/a.png", TestFiles.Png(TestFiles.Picture(8, 6, 3)));
        d.Write("masks/0/a.png", TestFiles.Png(TestFiles.Disc(8, 6, 4, 3, 2)));
        Assert.Equal(0, Cli.CommandLine.Run(["data", "check", d.Path]));
        d.Write("images/b.png", TestFiles.Png(TestFiles.Picture(8, 6, 3)));
        Assert.Equal(2, Cli.CommandLine.Run(["data", "check", d.Path, "--classes", "1"]));
    }

    [Fact]
    public void Prepare_rejects_unknown_datasets_and_wrong_folders()
    {
        using var d = new TempDir();
        Assert.Equal(2, Cli.CommandLine.Run(["data", "prepare", "mnist", d.Path, d["out"]]));
        Assert.Equal(2, Cli.CommandLine.Run(["data", "prepare", "busi", d.Path, d["out"]]));
    }
}
