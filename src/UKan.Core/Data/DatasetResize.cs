namespace UKan.Data;

/// <summary>
/// A copy of a prepared dataset at the training resolution, for moving it where space is short (the GPU machine).
/// Images go through the very resize training applies (bilinear, OpenCV geometry) and masks through OpenCV's nearest
/// rule, so training on the copy at that size sees what training on the original would, up to the order of
/// resizing and rot90/flip (which commute up to interpolation rounding). Images are stored lossless (PNG, grey when
/// R = G = B) unless a JPEG quality is given; masks are always lossless.
/// </summary>
public static class DatasetResize
{
    public static (int Count, long Bytes) Run(string source, string output, int height, int width, int? jpegQuality,
        CancellationToken cancel = default)
    {
        var folder = new SegmentationFolder(source);
        // Written aside and moved in place when complete: a partial copy would block the rerun and could pass for a complete one.
        using var fresh = UKan.IO.FreshFolder.Create(output, "output folder", [folder.Root]);
        output = fresh.Staging;
        Directory.CreateDirectory(Path.Combine(output, "images"));
        Directory.CreateDirectory(Path.Combine(output, "masks", "0"));
        long bytes = 0;
        Parallel.ForEach(folder.Ids, new ParallelOptions { CancellationToken = cancel }, id =>
        {
            var (image, masks) = folder.LoadSample(id, ChannelOrder.Rgb);
            var img = ImageOps.CompactForStorage(ImageOps.ResizeLinear(ImageOps.CompactForStorage(image), width, height));
            var mask = ImageOps.ResizeNearest(masks[0].Grey, width, height, ImageOps.NearestRule.OpenCv);
            var imgPath = Path.Combine(output, "images", id + (jpegQuality is null ? ".png" : ".jpg"));
            if (jpegQuality is int q) ImageFile.WriteJpeg(imgPath, img, q); else ImageFile.WritePng(imgPath, img);
            var maskPath = Path.Combine(output, "masks", "0", id + ".png");
            ImageFile.WritePng(maskPath, mask);
            Interlocked.Add(ref bytes, new FileInfo(imgPath).Length + new FileInfo(maskPath).Length);
        });
        fresh.Commit();
        return (folder.Count, bytes);
    }
}
