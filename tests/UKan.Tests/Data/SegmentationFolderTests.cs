using UKan.Data;

namespace UKan.Tests.Data;

public class SegmentationFolderTests
{
    [Fact]
    public void Lists_ids_in_ordinal_order_and_finds_both_mask_namings()
    {
        using var dir = new TempDir();
        foreach (var id in new[] { "b", "a", "B", "a 10", "a 2" })
            dir.Write($"images/{id}.png", TestFiles.Png(TestFiles.Picture(8, 6, 3)));
        dir.Write("images/c.jpg", ImageFile.EncodeJpeg(TestFiles.Picture(8, 6, 3)));
        dir.Write("masks/0/a.png", TestFiles.Png(TestFiles.Disc(8, 6, 3, 3, 2)));
        dir.Write("masks/0/b_mask.png", TestFiles.Png(TestFiles.Disc(8, 6, 3, 3, 2)));
        var folder = new SegmentationFolder(dir.Path);
        Assert.Equal(["B", "a", "a 10", "a 2", "b", "c"], folder.Ids);
        Assert.EndsWith("masks/0/a.png", folder.MaskPath("a"));
        Assert.EndsWith("masks/0/b_mask.png", folder.MaskPath("b"));
        Assert.Null(folder.FindMaskPath("c"));
        var e = Assert.Throws<UserError>(() => folder.LoadMask("c"));
        Assert.Contains("c_mask", e.Message);
    }

    [Fact]
    public void Loads_images_in_the_asked_channel_order_and_scales_16_bit()
    {
        using var dir = new TempDir();
        dir.Write("images/x.png", TestFiles.Png(Raster.Create8(1, 1, 3, [10, 20, 30])));
        dir.Write("images/y.png", TestFiles.Png(Raster.Create16(2, 1, 1, [65535, 257])));
        dir.Write("masks/0/x.png", TestFiles.Png(Raster.Create8(1, 1, 1, [255])));
        var folder = new SegmentationFolder(dir.Path);
        Assert.Equal([10, 20, 30], folder.LoadImage("x", ChannelOrder.Rgb).Pixels8);
        Assert.Equal([30, 20, 10], folder.LoadImage("x", ChannelOrder.Bgr).Pixels8);
        Assert.Equal([255, 255, 255, 1, 1, 1], folder.LoadImage("y", ChannelOrder.Rgb).Pixels8);
    }

    [Fact]
    public void Mask_binarisation_rule_and_official_target()
    {
        // 0/255 with soft JPEG-like values: threshold at 128.
        Assert.Equal([0, 0, 1, 1, 0, 1], Mask.Binarize([0, 3, 128, 255, 127, 250]));
        // 0/1 (and small labels): > 0.
        Assert.Equal([0, 1, 1, 0], Mask.Binarize([0, 1, 2, 0]));
        // Official U-KAN: /255, and > 0 -> 1 only when the maximum is below 255.
        static Mask M(params byte[] v) => new("m", Raster.Create8(v.Length, 1, 1, v));
        Assert.Equal([0f, 3 / 255f, 1f], M(0, 3, 255).OfficialTarget());
        Assert.Equal([0f, 1f, 1f], M(0, 1, 200).OfficialTarget());
        // With several classes the maximum is taken over all of them together.
        var both = Mask.OfficialTargets([M(0, 1), M(0, 255)]);
        Assert.Equal([0f, 1 / 255f], both[0]);
    }

    [Fact]
    public void Masks_of_any_form_become_grey()
    {
        Assert.Equal([0, 1], Mask.ToGrey(Raster.Create16(2, 1, 1, [0, 1])).Pixels8);       // 16-bit 0/1 kept
        Assert.Equal([0, 255], Mask.ToGrey(Raster.Create16(2, 1, 1, [0, 65535])).Pixels8); // 16-bit 0/65535 scaled
        Assert.Equal([255], Mask.ToGrey(Raster.Create8(1, 1, 3, [255, 255, 255])).Pixels8);
        Assert.Equal([255], Mask.ToGrey(Raster.Create8(1, 1, 4, [255, 255, 255, 0])).Pixels8);
    }

    [Fact]
    public void Multi_class_masks_and_size_check()
    {
        using var dir = new TempDir();
        dir.Write("images/s.png", TestFiles.Png(TestFiles.Picture(10, 8, 3)));
        dir.Write("masks/0/s.png", TestFiles.Png(TestFiles.Disc(10, 8, 2, 2, 2)));
        dir.Write("masks/1/s.png", TestFiles.Png(TestFiles.Disc(10, 8, 7, 5, 2)));
        var folder = new SegmentationFolder(dir.Path, numClasses: 2);
        var (image, masks) = folder.LoadSample("s", ChannelOrder.Bgr);
        Assert.Equal((10, 8), (image.Width, image.Height));
        Assert.Equal(2, masks.Length);
        Assert.Equal(1, masks[0].Binary[2 * 10 + 2]);
        Assert.Equal(0, masks[1].Binary[2 * 10 + 2]);
        Assert.Equal(1, masks[1].Binary[5 * 10 + 7]);

        dir.Write("masks/1/s.png", TestFiles.Png(TestFiles.Disc(9, 8, 7, 5, 2)));
        Assert.Throws<UserError>(() => new SegmentationFolder(dir.Path, numClasses: 2).LoadSample("s", ChannelOrder.Bgr));
        Assert.Throws<UserError>(() => new SegmentationFolder(dir.Path, numClasses: 3));    // masks/2 missing
    }

    [Fact]
    public void Refuses_what_makes_the_listing_wrong()
    {
        using var dir = new TempDir();
        Assert.Throws<UserError>(() => new SegmentationFolder(dir["nope"]));
        Assert.Throws<UserError>(() => new SegmentationFolder(dir.Path));                   // no images/
        Directory.CreateDirectory(dir["images"]);
        Directory.CreateDirectory(dir["masks/0"]);
        Assert.Throws<UserError>(() => new SegmentationFolder(dir.Path));                   // no images
        dir.Write("images/a.png", TestFiles.Png(TestFiles.Picture(4, 4, 3)));
        dir.Write("images/a.jpg", ImageFile.EncodeJpeg(TestFiles.Picture(4, 4, 3)));
        var e = Assert.Throws<UserError>(() => new SegmentationFolder(dir.Path));           // duplicate id
        Assert.Contains("a.jpg", e.Message);
    }
}
