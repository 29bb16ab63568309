using System.Text.Json;
using UKan.Data;

namespace UKan.Tests.Data;

public class DataPrepareTests
{
    static Raster ReadMask(string dir, string id) => ImageFile.Read(Path.Combine(dir, "masks", "0", id + ".png"));

    static void AssertPreparedFolderIsClean(string output, int images)
    {
        var report = DataCheck.Run(output);
        Assert.True(report.Ok, string.Join("\n", report.Issues));
        Assert.Empty(report.Warnings);
        Assert.Equal(images, report.Images);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "prepare.json")));
        Assert.Equal(images, json.RootElement.GetProperty("images").GetInt32());
        Assert.True(json.RootElement.TryGetProperty("date", out _));
    }

    static byte[] Or(Raster a, Raster b) => a.Pixels8.Zip(b.Pixels8, (x, y) => (byte)(x | y)).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Busi_merges_extra_masks_and_leaves_out_normal(bool splitLayout)
    {
        using var d = new TempDir();
        // The authors' layout (benign/benign (1).png next to its masks) or the split copy (benign/images, benign/mask).
        string Img(string cls) => splitLayout ? $"raw/data/{cls}/images" : $"raw/Dataset_BUSI_with_GT/{cls}";
        string Msk(string cls) => splitLayout ? $"raw/data/{cls}/mask" : $"raw/Dataset_BUSI_with_GT/{cls}";
        var greyInRgb = ImageOps.ToColor8(TestFiles.Picture(20, 14, 1));
        var colour = TestFiles.Picture(18, 12, 3);
        var a = TestFiles.Disc(20, 14, 5, 5, 3);
        var b = TestFiles.Disc(20, 14, 14, 8, 4);
        d.Write($"{Img("benign")}/benign (1).png", TestFiles.Png(greyInRgb));
        d.Write($"{Msk("benign")}/benign (1)_mask.png", TestFiles.Png(a));
        d.Write($"{Msk("benign")}/benign (1)_mask_1.png", TestFiles.Png(b));
        d.Write($"{Img("benign")}/benign (2).png", TestFiles.Png(greyInRgb));
        d.Write($"{Msk("benign")}/benign (2)_mask.png", TestFiles.Png(a));
        d.Write($"{Img("benign")}/benign (3).png", TestFiles.Png(greyInRgb)); // no mask
        d.Write($"{Img("malignant")}/malignant (1).png", TestFiles.Png(colour));
        // The real masks are 1-bit grey PNGs.
        d.Write($"{Msk("malignant")}/malignant (1)_mask.png", TestFiles.RawPng(18, 12, 0, 1, (x, y, _) => x < 6 ? 1 : 0));
        d.Write($"{Img("normal")}/normal (1).png", TestFiles.Png(greyInRgb));
        d.Write($"{Msk("normal")}/normal (1)_mask.png", TestFiles.Png(Raster.Create8(20, 14, 1)));

        var output = d["out"];
        var log = new List<string>();
        var r = DataPrepare.Run("busi", d["raw"], output, log.Add, cancel: TestContext.Current.CancellationToken);
        Assert.Equal((3, 3, 1), (r.Images, r.Masks, r.MergedMasks));
        Assert.Equal(2, r.Groups["benign"]);
        Assert.Equal(1, r.Groups["malignant"]);
        Assert.Single(r.Skipped);
        Assert.Contains("benign (3)", r.Skipped[0]);
        Assert.Contains(log, l => l.Contains("wrote 3 images"));
        Assert.Equal(["benign (1)", "benign (2)", "malignant (1)"], new SegmentationFolder(output).Ids);

        Assert.Equal(Or(a, b), ReadMask(output, "benign (1)").Pixels8);
        var stored = ImageFile.Read(Path.Combine(output, "images", "benign (1).png"));
        Assert.Equal(1, stored.Channels); // grey-in-RGB stored as grey, losslessly
        Assert.Equal(greyInRgb.Pixels8, ImageOps.ToColor8(stored).Pixels8);
        Assert.Equal(colour.Pixels8, ImageFile.Read(Path.Combine(output, "images", "malignant (1).png")).Pixels8);
        Assert.Equal(255, ReadMask(output, "malignant (1)")[0, 0, 0]);
        Assert.False(File.Exists(Path.Combine(output, "images", "normal (1).png")));
        AssertPreparedFolderIsClean(output, 3);
    }

    [Fact]
    public void Glas_mask_is_instance_label_above_zero()
    {
        using var d = new TempDir();
        const int w = 16, h = 10;
        var labels = new byte[w * h];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) labels[y * w + x] = (byte)(x < 4 ? 0 : x < 8 ? 1 : x < 12 ? 2 : 3);
        // A colour palette where label 2 happens to be black: the labels, not the colours, define the glands.
        byte[] palette = [0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 255];
        var root = "raw/Warwick QU Dataset (Released 2016_07_08)";
        foreach (var id in new[] { "train_1", "train_2", "testA_1", "testB_1" })
        {
            d.Write($"{root}/{id}.bmp", TestFiles.Bmp24(TestFiles.Picture(w, h, 3, seed: id.Length)));
            d.Write($"{root}/{id}_anno.bmp", TestFiles.Bmp8(w, h, labels, palette));
        }
        d.Write($"{root}/Grade.csv", "name,grade\n"u8.ToArray());
        var output = d["out"];
        var r = DataPrepare.Glas(d["raw"], output, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(4, r.Images);
        Assert.Equal(new Dictionary<string, int> { ["testA"] = 1, ["testB"] = 1, ["train"] = 2 }, r.Groups);
        var mask = ReadMask(output, "train_1");
        Assert.Equal(labels.Select(l => l > 0 ? (byte)255 : (byte)0), mask.Pixels8);
        Assert.Equal(TestFiles.Picture(w, h, 3, seed: 7).Pixels8, ImageFile.Read(Path.Combine(output, "images", "train_1.png")).Pixels8);
        AssertPreparedFolderIsClean(output, 4);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cvc_reads_malformed_tiffs_and_detects_swapped_folders(bool swappedCopy)
    {
        using var d = new TempDir();
        var frames = new[] { TestFiles.Picture(38, 29, 3, 1), TestFiles.Picture(38, 29, 3, 2) };
        var truth = TestFiles.Disc(38, 29, 19, 14, 9);
        truth.Pixels8[0] = 200; truth.Pixels8[1] = 100; // soft edge values
        var (frameDir, truthDir) = swappedCopy ? ("raw/CVC-ClinicDB/masks", "raw/CVC-ClinicDB/images") : ("raw/CVC-ClinicDB/Original", "raw/CVC-ClinicDB/Ground Truth");
        for (int i = 0; i < 2; i++)
        {
            d.Write($"{frameDir}/{i + 1}.tif", TestFiles.Tiff(frames[i], photometric: 1, rowsPerStrip: 16)); // MinIsBlack with 3 samples
            d.Write($"{truthDir}/{i + 1}.tif", TestFiles.Tiff(truth, TestFiles.TiffCompression.PackBits));
        }
        var output = d["out"];
        var r = DataPrepare.Cvc(d["raw"], output, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(2, r.Images);
        Assert.Equal(swappedCopy, r.Notes.Any(n => n.Contains("swapped")));
        Assert.Equal(frames[1].Pixels8, ImageFile.Read(Path.Combine(output, "images", "2.png")).Pixels8);
        var mask = ReadMask(output, "1");
        Assert.Equal((255, 0), (mask[0, 0, 0], mask[1, 0, 0]));
        Assert.Equal(255, mask[19, 14, 0]);
        AssertPreparedFolderIsClean(output, 2);
    }

    [Fact]
    public void Kvasir_copies_jpeg_bytes_and_binarises_jpeg_masks()
    {
        using var d = new TempDir();
        var jpg = ImageFile.EncodeJpeg(TestFiles.Picture(40, 32, 3), 85);
        var disc = TestFiles.Disc(40, 32, 20, 16, 10);
        d.Write("raw/Kvasir-SEG/images/cju0abc.jpg", jpg);
        d.Write("raw/Kvasir-SEG/masks/cju0abc.jpg", ImageFile.EncodeJpeg(ImageOps.ToColor8(disc), 75));
        d.Write("raw/Kvasir-SEG/kavsir_bboxes.json", "{}"u8.ToArray());
        var output = d["out"];
        var r = DataPrepare.Kvasir(d["raw"], output, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(1, r.Images);
        Assert.Equal(jpg, File.ReadAllBytes(Path.Combine(output, "images", "cju0abc.jpg")));
        var mask = ReadMask(output, "cju0abc");
        Assert.All(mask.Pixels8, v => Assert.True(v is 0 or 255));
        int differ = mask.Pixels8.Zip(disc.Pixels8, (x, y) => x != y ? 1 : 0).Sum();
        Assert.True(differ < 20, $"{differ} pixels differ from the drawn disc");
        AssertPreparedFolderIsClean(output, 1);
    }

    [Fact]
    public void Refuses_wrong_folders_and_non_empty_output()
    {
        using var d = new TempDir();
        d.Write("cvc/Original/1.tif", TestFiles.Tiff(TestFiles.Picture(8, 8, 3)));
        d.Write("cvc/Ground Truth/1.tif", TestFiles.Tiff(TestFiles.Disc(8, 8, 4, 4, 2)));
        var e = Assert.Throws<UserError>(() => DataPrepare.Run("busi", d["cvc"], d["out"], cancel: TestContext.Current.CancellationToken));
        Assert.Contains("does not look like BUSI: expected benign/", e.Message);
        Assert.Throws<UserError>(() => DataPrepare.Run("glas", d["cvc"], d["out"], cancel: TestContext.Current.CancellationToken));
        Assert.Throws<UserError>(() => DataPrepare.Run("kvasir", d["cvc"], d["out"], cancel: TestContext.Current.CancellationToken));
        Assert.Throws<UserError>(() => DataPrepare.Run("busi", d["missing"], d["out"], cancel: TestContext.Current.CancellationToken));
        Assert.Throws<UserError>(() => DataPrepare.Run("nope", d["cvc"], d["out"], cancel: TestContext.Current.CancellationToken));
        d.Write("out/something.txt", [1]);
        e = Assert.Throws<UserError>(() => DataPrepare.Run("cvc", d["cvc"], d["out"], cancel: TestContext.Current.CancellationToken));
        Assert.Contains("not empty", e.Message);
        // An output inside the raw folder would become part of it.
        e = Assert.Throws<UserError>(() => DataPrepare.Run("cvc", d.Path, d["new"], cancel: TestContext.Current.CancellationToken));
        Assert.Contains("inside the input folder", e.Message);
        Assert.False(Directory.Exists(d["new"]));
    }

    [Fact]
    public void Subset_shrinks_images_and_masks_together()
    {
        using var d = new TempDir();
        for (int i = 0; i < 5; i++)
        {
            d.Write($"src/images/{i}.png", TestFiles.Png(TestFiles.Picture(60, 40, 3, i)));
            d.Write($"src/masks/0/{i}_mask.png", TestFiles.Png(TestFiles.Disc(60, 40, 30, 20, 10)));
        }
        Assert.Equal(["0", "2"], DatasetSubset.SpreadIds(["0", "1", "2", "3"], 2));
        var (ids, bytes) = DatasetSubset.Create(d["src"], d["out"], count: 2, maxSide: 30, jpegQuality: 80, cancel: TestContext.Current.CancellationToken);
        Assert.Equal(["0", "2"], ids);
        Assert.True(bytes > 0);
        var subset = new SegmentationFolder(d["out"]);
        var (image, masks) = subset.LoadSample("2", ChannelOrder.Rgb);
        Assert.Equal((30, 20), (image.Width, image.Height));
        Assert.Equal(255, masks[0].Grey[15, 10, 0]);
        Assert.True(File.Exists(d["out/subset.json"]));
    }
}
