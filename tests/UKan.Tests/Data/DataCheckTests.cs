using UKan.Data;

namespace UKan.Tests.Data;

public class DataCheckTests
{
    const int W = 12, H = 9;

    static byte[] Image() => TestFiles.Png(TestFiles.Picture(W, H, 3));
    static byte[] GoodMask() => TestFiles.Png(TestFiles.Disc(W, H, 6, 4, 3));

    [Fact]
    public void Reports_every_problem_kind_in_one_run()
    {
        using var d = new TempDir();
        d.Write("images/ok.png", Image()); d.Write("masks/0/ok_mask.png", GoodMask());
        d.Write("images/nomask.png", Image());
        d.Write("masks/0/extra.png", GoodMask());
        d.Write("images/zero.png", []); d.Write("masks/0/zero.png", GoodMask());
        var img = Image();
        d.Write("images/corrupt.png", img[..(img.Length - 30)]); d.Write("masks/0/corrupt.png", GoodMask());
        d.Write("images/zeromask.png", Image()); d.Write("masks/0/zeromask.png", []);
        d.Write("images/size.png", Image()); d.Write("masks/0/size.png", TestFiles.Png(TestFiles.Disc(W - 1, H, 6, 4, 3)));
        var soft = TestFiles.Disc(W, H, 6, 4, 3);
        soft.Pixels8[0] = 100; soft.Pixels8[1] = 3;
        d.Write("images/soft.png", Image()); d.Write("masks/0/soft.png", TestFiles.Png(soft));
        d.Write("images/colour.png", Image()); d.Write("masks/0/colour.png", TestFiles.Png(ImageOps.ToColor8(TestFiles.Disc(W, H, 6, 4, 3))));
        var m16 = Raster.Create16(W, H, 1); m16.Pixels16[5] = 30000; m16.Pixels16[6] = 65535;
        d.Write("images/m16.png", Image()); d.Write("masks/0/m16.png", TestFiles.Png(m16));
        d.Write("images/empty.png", Image()); d.Write("masks/0/empty.png", TestFiles.Png(Raster.Create8(W, H, 1)));
        d.Write("images/dup.png", Image()); d.Write("images/dup.jpg", ImageFile.EncodeJpeg(TestFiles.Picture(W, H, 3))); d.Write("masks/0/dup.png", GoodMask());
        d.Write("images/both.png", Image()); d.Write("masks/0/both.png", GoodMask()); d.Write("masks/0/both_mask.bmp", TestFiles.Bmp8(W, H, new byte[W * H]));
        d.Write("images/notes.txt", "x"u8.ToArray());
        d.Write("images/.DS_Store", [1]);
        Directory.CreateDirectory(d["masks/5"]);

        var report = DataCheck.Run(d.Path);
        var lines = report.Issues.Select(i => i.ToString()).ToList();
        string One(string file, bool error, string text)
        {
            var hits = report.Issues.Where(i => i.Path.EndsWith(file) && i.IsError == error && i.Problem.Contains(text)).ToList();
            Assert.True(hits.Count == 1, $"expected one {(error ? "error" : "warning")} '{text}' for {file}, got:\n{string.Join("\n", lines)}");
            return hits[0].ToString();
        }
        One("images/nomask.png", true, "without a mask");
        One("masks/0/extra.png", false, "without an image");
        One("images/zero.png", true, "empty (0 bytes)");
        One("images/corrupt.png", true, "cannot be decoded");
        One("masks/0/zeromask.png", true, "empty (0 bytes)");
        One("masks/0/size.png", true, "11x9 but its image is 12x9");
        Assert.Contains("2 of 108 pixels", One("masks/0/soft.png", false, "non-binary"));
        One("masks/0/colour.png", false, "stored as colour");
        One("masks/0/m16.png", true, "16-bit mask");
        One("masks/0/empty.png", false, "no foreground");
        One("images/dup.jpg", true, "2 image files");
        One("masks/0/both.png", true, "2 mask files");
        One("images/notes.txt", false, "not an image file");
        One("masks/5", false, "not a class folder");
        Assert.DoesNotContain(report.Issues, i => i.Path.EndsWith(".DS_Store") || i.Path.EndsWith("ok.png") || i.Path.EndsWith("ok_mask.png"));
        Assert.All(report.Issues, i => Assert.False(string.IsNullOrWhiteSpace(i.Fix)));
        Assert.Equal(8, report.ErrorCount);
        Assert.False(report.Ok);
        Assert.Equal(12, report.Images);
        Assert.Contains("12 images", report.Summary);
        Assert.Contains("8 errors", report.Summary);
    }

    [Fact]
    public void Missing_folders_are_all_reported()
    {
        using var d = new TempDir();
        var report = DataCheck.Run(d.Path);
        Assert.Equal(2, report.ErrorCount);
        Assert.Contains(report.Errors, i => i.Problem.Contains("images folder is missing"));
        Assert.Contains(report.Errors, i => i.Problem.Contains("masks folder is missing"));

        Directory.CreateDirectory(d["images"]);
        d.Write("masks/a.png", GoodMask());
        report = DataCheck.Run(d.Path);
        Assert.Contains(report.Errors, i => i.Problem.Contains("holds no images"));
        Assert.Contains(report.Errors, i => i.Problem.Contains("class 0 is missing") && i.Fix.Contains("masks/0"));
    }

    [Fact]
    public void Clean_folder_passes_with_a_summary()
    {
        using var d = new TempDir();
        for (int i = 0; i < 3; i++)
        {
            d.Write($"images/{i}.png", TestFiles.Png(TestFiles.Picture(W + i, H, 3)));
            d.Write($"masks/0/{i}.png", TestFiles.Png(TestFiles.Disc(W + i, H, 6, 4, 3)));
        }
        var report = DataCheck.Run(d.Path);
        Assert.True(report.Ok, string.Join("\n", report.Issues));
        Assert.Empty(report.Issues);
        Assert.StartsWith("3 images (width 12-14, height 9-9, 3 distinct sizes); 3 masks (foreground", report.Summary);
    }
}
