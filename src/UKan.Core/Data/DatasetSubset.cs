using System.Text.Json;

namespace UKan.Data;

/// <summary>
/// A small, shrunken copy of a prepared dataset (how the embedded demo set was made): <c>count</c> samples spread
/// evenly over the sorted ids, images area-resized to at most <c>maxSide</c> pixels on the longer side (aspect
/// kept, never enlarged) and stored as JPEG, masks resized to the same size by nearest neighbour and stored as
/// single-channel 0/255 PNG, plus <c>subset.json</c> naming the source and the choice.
/// </summary>
public static class DatasetSubset
{
    /// <summary><paramref name="count"/> ids spread evenly over <paramref name="ids"/>: the ones at floor(i * n / count).</summary>
    public static IReadOnlyList<string> SpreadIds(IReadOnlyList<string> ids, int count)
    {
        if (count < 1) throw new UserError($"the subset size must be at least 1 (got {count}).");
        if (count >= ids.Count) return ids.ToList();
        return Enumerable.Range(0, count).Select(i => ids[(int)((long)i * ids.Count / count)]).ToList();
    }

    /// <returns>The chosen ids and the total bytes written.</returns>
    public static (IReadOnlyList<string> Ids, long Bytes) Create(string source, string output, int count, int maxSide = 320, int jpegQuality = 90, Action<string>? log = null,
        CancellationToken cancel = default)
    {
        if (maxSide < 8) throw new UserError($"--max-side {maxSide} is too small; use 8 or more.");
        var folder = new SegmentationFolder(source);
        var ids = SpreadIds(folder.Ids, count);
        using var fresh = UKan.IO.FreshFolder.Create(output, "output folder", [folder.Root]);
        var outFull = fresh.Staging;
        long bytes = 0;
        foreach (var id in ids)
        {
            cancel.ThrowIfCancellationRequested();
            var (image, masks) = folder.LoadSample(id, ChannelOrder.Rgb);
            var (w, h) = ImageOps.FitWithin(image.Width, image.Height, maxSide);
            var small = w == image.Width && h == image.Height ? image : ImageOps.ResizeArea(image, w, h);
            var jpg = ImageFile.EncodeJpeg(small, jpegQuality);
            var png = ImageFile.EncodePng(ImageOps.ResizeNearest(masks[0].ToBinaryImage(), w, h));
            AtomicFile.WriteAllBytes(Path.Combine(outFull, "images", id + ".jpg"), jpg);
            AtomicFile.WriteAllBytes(Path.Combine(outFull, "masks", "0", id + ".png"), png);
            bytes += jpg.Length + png.Length;
            log?.Invoke($"{id}: {image.Width}x{image.Height} -> {w}x{h}, {jpg.Length + png.Length:N0} bytes");
        }
        string? origin = null;
        var manifest = Path.Combine(folder.Root, "prepare.json");
        if (File.Exists(manifest))
            try { origin = JsonDocument.Parse(File.ReadAllText(manifest)).RootElement.GetProperty("source").GetString(); }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { }
        var json = JsonSerializer.Serialize(new
        {
            source = folder.Root,
            sourceRaw = origin,
            date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            choice = $"{ids.Count} of {folder.Count} ids, spread evenly over the sorted ids (index floor(i*n/count))",
            images = $"area-resized to at most {maxSide} px on the longer side (aspect kept), JPEG quality {jpegQuality}",
            masks = "binarised, resized by nearest neighbour to the image size, single-channel PNG 0/255",
            ids,
        }, UKan.IO.JsonFiles.Options);
        AtomicFile.WriteAllText(Path.Combine(outFull, "subset.json"), json + "\n");
        fresh.Commit();
        return (ids, bytes);
    }
}
