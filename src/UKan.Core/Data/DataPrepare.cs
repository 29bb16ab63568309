using System.Text.Json;
using System.Text.RegularExpressions;

namespace UKan.Data;

/// <summary>What one <see cref="DataPrepare"/> run did.</summary>
/// <param name="MergedMasks">Images whose mask was merged (OR) from several mask files (BUSI).</param>
/// <param name="Groups">Images per source group (BUSI: benign/malignant; GlaS: train/testA/testB).</param>
/// <param name="Skipped">"file: why" for each sample left out.</param>
public sealed record PrepareResult(
    string Dataset,
    string Source,
    string Output,
    int Images,
    int Masks,
    int MergedMasks,
    IReadOnlyDictionary<string, int> Groups,
    IReadOnlyList<string> Skipped,
    IReadOnlyList<string> Notes);

/// <summary>
/// Converts a public dataset's raw layout into ours: <c>OUT/images/&lt;id&gt;.png</c> (lossless, original resolution;
/// colour whose pixels are all grey is stored as 1 channel, alpha dropped), <c>OUT/masks/0/&lt;id&gt;.png</c>
/// (1 channel, values 0/255) and <c>OUT/prepare.json</c> (source, counts, date). Kvasir-SEG images are copied
/// byte for byte (<c>OUT/images/&lt;id&gt;.jpg</c>): re-encoding JPEG as PNG would be ~8x larger for nothing.
/// A sample that cannot be converted (unreadable file, missing or mismatched mask) is left out and listed.
/// The raw layouts are those of the public copies listed in docs/data.md ("Where to get the datasets").
/// </summary>
public static partial class DataPrepare
{
    public static readonly IReadOnlyList<string> Datasets = ["busi", "glas", "cvc", "kvasir"];

    public static PrepareResult Run(string dataset, string raw, string output, Action<string>? log = null, CancellationToken cancel = default) =>
        dataset.ToLowerInvariant() switch
        {
            "busi" => Busi(raw, output, log, cancel),
            "glas" => Glas(raw, output, log, cancel),
            "cvc" => Cvc(raw, output, log, cancel),
            "kvasir" => Kvasir(raw, output, log, cancel),
            _ => throw new UserError($"unknown dataset '{dataset}'; use one of {string.Join(", ", Datasets)}."),
        };

    // ------------------------------------------------------------------ BUSI

    [GeneratedRegex(@"^(?<id>.+?)_mask(_(?<k>\d+))?$", RegexOptions.IgnoreCase)]
    private static partial Regex BusiMaskName();

    /// <summary>
    /// BUSI (Al-Dhabyani et al. 2020): <c>benign/benign (N).png</c> with <c>benign (N)_mask.png</c> and extra masks
    /// <c>_mask_1</c>, <c>_mask_2</c> merged by OR; the same for <c>malignant/</c>; <c>normal/</c> (no lesions) is
    /// left out. Also reads copies that split each class folder into <c>images/</c> and <c>mask/</c>
    /// (yirutsai/Breast-ultrasound-dataset). Ids keep their names, spaces included: <c>benign (1)</c>.
    /// </summary>
    public static PrepareResult Busi(string raw, string output, Action<string>? log = null, CancellationToken cancel = default)
    {
        const string expected = "benign/ and malignant/ folders holding '<class> (N).png' images and '<class> (N)_mask.png' masks (Dataset_BUSI_with_GT)";
        var root = FindRoot(raw, "BUSI", expected, d => BusiClassDirs(d).Count > 0);
        var notes = new List<string>();
        if (Directory.Exists(Path.Combine(root, "normal"))) notes.Add("normal/ left out (images without lesions)");
        var samples = new List<Sample>();
        var skipped = new List<string>();
        var groups = new Dictionary<string, int>();
        foreach (var classDir in BusiClassDirs(root))
        {
            // Images and masks may sit in the class folder itself or in sub-folders of it (images/, mask/).
            var files = Directory.EnumerateFiles(classDir)
                .Concat(Directory.EnumerateDirectories(classDir).SelectMany(Directory.EnumerateFiles))
                .Where(f => ImageFile.HasImageExtension(f) && !Path.GetFileName(f).StartsWith('.'))
                .Order(StringComparer.Ordinal).ToList();
            var images = new SortedDictionary<string, string>(StringComparer.Ordinal);
            var masks = new Dictionary<string, List<(int, string)>>(StringComparer.Ordinal);
            foreach (var f in files)
            {
                var stem = Path.GetFileNameWithoutExtension(f);
                var m = BusiMaskName().Match(stem);
                if (m.Success)
                {
                    var id = m.Groups["id"].Value;
                    if (!masks.TryGetValue(id, out var list)) masks[id] = list = [];
                    list.Add((m.Groups["k"].Success ? int.Parse(m.Groups["k"].Value) : 0, f));
                }
                else if (!images.TryAdd(stem, f)) skipped.Add($"{f}: a second image named '{stem}' (first: {images[stem]}); ignored");
            }
            foreach (var (id, image) in images)
            {
                if (!masks.TryGetValue(id, out var list)) { skipped.Add($"{image}: no '{id}_mask' file"); continue; }
                samples.Add(new Sample(id, image, list.OrderBy(x => x.Item1).Select(x => x.Item2).ToArray()));
            }
            foreach (var id in masks.Keys.Where(k => !images.ContainsKey(k)).Order(StringComparer.Ordinal))
                skipped.Add($"{masks[id][0].Item2}: mask without an image");
            groups[Path.GetFileName(classDir).ToLowerInvariant()] = images.Keys.Count(id => masks.ContainsKey(id));
        }
        log?.Invoke($"busi: {samples.Count} images with masks in {root} ({string.Join(", ", groups.Select(g => $"{g.Key} {g.Value}"))})");
        return Convert("busi", raw, root, output, samples, groups, skipped, notes, log, cancel, s =>
        {
            var image = ImageFile.Read(s.Image);
            byte[]? fg = null;
            foreach (var maskPath in s.Masks)
            {
                var mask = Mask.FromDecoded(maskPath, ImageFile.Read(maskPath));
                SameSize(mask.Grey, image, maskPath, s.Image);
                if (fg is null) fg = mask.Binary;
                else for (int i = 0; i < fg.Length; i++) fg[i] |= mask.Binary[i];
            }
            return new Converted(image, null, fg!);
        });
    }

    static List<string> BusiClassDirs(string dir) =>
        !Directory.Exists(dir) ? []
        : Directory.EnumerateDirectories(dir).Where(d => Path.GetFileName(d).ToLowerInvariant() is "benign" or "malignant").Order(StringComparer.Ordinal).ToList();

    // ------------------------------------------------------------------ GlaS

    [GeneratedRegex(@"^(?<id>(train|testA|testB)_\d+)(?<anno>_anno)?$", RegexOptions.IgnoreCase)]
    private static partial Regex GlasName();

    /// <summary>
    /// GlaS (Warwick-QU, MICCAI 2015): <c>train_N.bmp</c> + <c>train_N_anno.bmp</c>, likewise <c>testA_N</c> and
    /// <c>testB_N</c>. The annotation holds one label per gland (palette indices are read as labels), so the mask is
    /// label &gt; 0. Images are stored as lossless PNG. Ids: <c>train_1</c>, <c>testA_1</c>, ...
    /// </summary>
    public static PrepareResult Glas(string raw, string output, Action<string>? log = null, CancellationToken cancel = default)
    {
        const string expected = "files train_N.bmp with train_N_anno.bmp (and testA_N, testB_N) from the GlaS 'Warwick QU Dataset'";
        var root = FindRoot(raw, "GlaS", expected, d => Directory.Exists(d) && Directory.EnumerateFiles(d).Any(f => ImageFile.HasImageExtension(f) && GlasName().IsMatch(Path.GetFileNameWithoutExtension(f))));
        var files = Directory.EnumerateFiles(root).Where(ImageFile.HasImageExtension)
            .Select(f => (File: f, Match: GlasName().Match(Path.GetFileNameWithoutExtension(f)))).Where(x => x.Match.Success).ToList();
        var skipped = new List<string>();
        var samples = Pair(files.Where(x => !x.Match.Groups["anno"].Success).Select(x => (x.Match.Groups["id"].Value, x.File)),
                           files.Where(x => x.Match.Groups["anno"].Success).Select(x => (x.Match.Groups["id"].Value, x.File)), "annotation (_anno)", skipped);
        var groups = samples.GroupBy(s => s.Id[..s.Id.IndexOf('_')]).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        log?.Invoke($"glas: {samples.Count} images with annotations in {root} ({string.Join(", ", groups.Select(g => $"{g.Key} {g.Value}"))})");
        return Convert("glas", raw, root, output, samples, groups, skipped, [], log, cancel, s =>
        {
            var image = ImageFile.Read(s.Image);
            var labels = ImageFile.Read(s.Masks[0], keepPaletteIndices: true);
            SameSize(labels, image, s.Masks[0], s.Image);
            return new Converted(image, null, LabelsToForeground(labels));
        });
    }

    /// <summary>Foreground = any label sample &gt; 0 (grey labels, or colour-coded instances), alpha ignored.</summary>
    static byte[] LabelsToForeground(Raster labels)
    {
        var fg = new byte[labels.PixelCount];
        int ch = Math.Min(labels.Channels, 3), stride = labels.Channels;
        for (int i = 0; i < fg.Length; i++)
            for (int c = 0; c < ch && fg[i] == 0; c++)
                if ((labels.Is16Bit ? labels.Pixels16[i * stride + c] : labels.Pixels8[i * stride + c]) != 0) fg[i] = 1;
        return fg;
    }

    // ------------------------------------------------------------------ CVC-ClinicDB

    [GeneratedRegex(@"^\d+$")]
    private static partial Regex NumericName();

    /// <summary>
    /// CVC-ClinicDB (Bernal et al. 2015): <c>Original/N.tif</c> (RGB frames; malformed MinIsBlack tag, read as RGB)
    /// and <c>Ground Truth/N.tif</c> (binarised at ≥ 128). Copies with <c>images/</c> + <c>masks/</c> are read too;
    /// in some (ViniciusSimm/Colo-Retal-Induscon2023) the two are swapped, so the frames are found by content:
    /// the folder whose first file is real colour. Frames are stored as lossless RGB PNG.
    /// </summary>
    public static PrepareResult Cvc(string raw, string output, Action<string>? log = null, CancellationToken cancel = default)
    {
        const string expected = "folders 'Original' and 'Ground Truth' (or 'images' and 'masks') holding N.tif files";
        var root = FindRoot(raw, "CVC-ClinicDB", expected, d => CvcPair(d) is var (a, b) && NumericFiles(a).Any() && NumericFiles(b).Any());
        var (first, second) = CvcPair(root)!.Value;
        bool firstColour = IsColourFile(NumericFiles(first).First()), secondColour = IsColourFile(NumericFiles(second).First());
        if (firstColour == secondColour)
            throw new UserError($"cannot tell the frames from the ground truth in {root}: the first files of {Path.GetFileName(first)}/ and {Path.GetFileName(second)}/ are {(firstColour ? "both colour" : "both grey")}; expected RGB frames in one folder and grey masks in the other.");
        var (frames, truth) = firstColour ? (first, second) : (second, first);
        var notes = new List<string>();
        if (!firstColour)
        {
            notes.Add($"{Path.GetFileName(first)}/ and {Path.GetFileName(second)}/ are swapped in this copy (detected by channel count): frames taken from {Path.GetFileName(frames)}/");
            log?.Invoke($"cvc: note: {notes[^1]}");
        }
        var skipped = new List<string>();
        var byNumber = Comparer<string>.Create((a, b) => a.Length != b.Length ? a.Length.CompareTo(b.Length) : string.CompareOrdinal(a, b));
        var samples = Pair(NumericFiles(frames).Select(f => (Path.GetFileNameWithoutExtension(f), f)),
                           NumericFiles(truth).Select(f => (Path.GetFileNameWithoutExtension(f), f)), "ground truth", skipped, byNumber);
        log?.Invoke($"cvc: {samples.Count} frames with ground truth in {root}");
        return Convert("cvc", raw, root, output, samples, new Dictionary<string, int>(), skipped, notes, log, cancel, s =>
        {
            var frame = ImageFile.Read(s.Image);
            if (frame.Channels < 3) throw new UserError($"{s.Image} is a grey image, not a colour frame; check the folder.");
            var gt = Mask.ToGrey(ImageFile.Read(s.Masks[0]));
            SameSize(gt, frame, s.Masks[0], s.Image);
            return new Converted(frame, null, Mask.Binarize(gt.Pixels8, 128));
        });
    }

    static (string, string)? CvcPair(string dir)
    {
        if (!Directory.Exists(dir)) return null;
        string? Sub(string name) => Directory.EnumerateDirectories(dir).FirstOrDefault(d => string.Equals(Path.GetFileName(d), name, StringComparison.OrdinalIgnoreCase));
        if (Sub("Original") is { } o && Sub("Ground Truth") is { } g) return (o, g);
        if (Sub("images") is { } i && Sub("masks") is { } m) return (i, m);
        return null;
    }

    static IEnumerable<string> NumericFiles(string dir) =>
        Directory.EnumerateFiles(dir).Where(f => ImageFile.HasImageExtension(f) && NumericName().IsMatch(Path.GetFileNameWithoutExtension(f))).Order(StringComparer.Ordinal);

    static bool IsColourFile(string path)
    {
        var r = ImageFile.Read(path);
        return r.Channels >= 3 && !ImageOps.IsGreyInColour(r);
    }

    // ------------------------------------------------------------------ Kvasir-SEG

    /// <summary>
    /// Kvasir-SEG (Jha et al. 2020): <c>images/&lt;id&gt;.jpg</c> and <c>masks/&lt;id&gt;.jpg</c>. Images are copied
    /// unchanged (original JPEG bytes); the JPEG masks are binarised at ≥ 128 and stored as PNG.
    /// </summary>
    public static PrepareResult Kvasir(string raw, string output, Action<string>? log = null, CancellationToken cancel = default)
    {
        const string expected = "folders 'images' and 'masks' holding <id>.jpg files (Kvasir-SEG)";
        var root = FindRoot(raw, "Kvasir-SEG", expected, d =>
            Directory.Exists(Path.Combine(d, "images")) && Directory.Exists(Path.Combine(d, "masks"))
            && Directory.EnumerateFiles(Path.Combine(d, "images")).Any(f => Path.GetExtension(f).ToLowerInvariant() is ".jpg" or ".jpeg"));
        IEnumerable<(string, string)> Files(string sub) =>
            Directory.EnumerateFiles(Path.Combine(root, sub)).Where(ImageFile.HasImageExtension).Select(f => (Path.GetFileNameWithoutExtension(f), f));
        var skipped = new List<string>();
        var samples = Pair(Files("images"), Files("masks"), "mask", skipped);
        log?.Invoke($"kvasir: {samples.Count} images with masks in {root}");
        return Convert("kvasir", raw, root, output, samples, new Dictionary<string, int>(), skipped, [], log, cancel, s =>
        {
            var bytes = File.ReadAllBytes(s.Image);
            var image = ImageFile.Decode(bytes, s.Image);
            bool jpeg = ImageFile.DetectFormat(bytes) == ImageFormat.Jpeg;
            var gt = Mask.ToGrey(ImageFile.Read(s.Masks[0]));
            SameSize(gt, image, s.Masks[0], s.Image);
            // Copy JPEG bytes as they are; anything else is stored as PNG like the other datasets.
            return new Converted(image, jpeg ? bytes : null, Mask.Binarize(gt.Pixels8, 128));
        });
    }

    // ------------------------------------------------------------------ shared

    sealed record Sample(string Id, string Image, string[] Masks);

    /// <summary>A converted sample: the image (stored as PNG unless <paramref name="JpegBytes"/> are to be copied) and the 0/1 foreground.</summary>
    sealed record Converted(Raster Image, byte[]? JpegBytes, byte[] Foreground);

    /// <summary>
    /// Pairs images with masks by id (each sorted by <paramref name="idOrder"/>, default ordinal); an image without
    /// a mask, a mask without an image and a second file for one id are listed in <paramref name="skipped"/>.
    /// </summary>
    static List<Sample> Pair(IEnumerable<(string Id, string File)> images, IEnumerable<(string Id, string File)> masks, string maskName,
        List<string> skipped, IComparer<string>? idOrder = null)
    {
        var maskById = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, f) in masks.OrderBy(m => m.File, StringComparer.Ordinal))
            if (!maskById.TryAdd(id, f)) skipped.Add($"{f}: a second {maskName} for '{id}' (first: {Path.GetFileName(maskById[id])}); ignored");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var samples = new List<Sample>();
        foreach (var (id, f) in images.OrderBy(i => i.Id, idOrder ?? StringComparer.Ordinal).ThenBy(i => i.File, StringComparer.Ordinal))
        {
            if (!seen.Add(id)) skipped.Add($"{f}: a second image for '{id}'; ignored");
            else if (maskById.Remove(id, out var m)) samples.Add(new Sample(id, f, [m]));
            else skipped.Add($"{f}: no {maskName} for '{id}'");
        }
        skipped.AddRange(maskById.Values.Order(StringComparer.Ordinal).Select(f => $"{f}: {maskName} without an image"));
        return samples;
    }

    static void SameSize(Raster mask, Raster image, string maskPath, string imagePath)
    {
        if (mask.Width != image.Width || mask.Height != image.Height)
            throw new UserError($"{maskPath} is {mask.Width}x{mask.Height} but its image {imagePath} is {image.Width}x{image.Height}");
    }

    /// <summary>
    /// The dataset root: <paramref name="raw"/> itself, or the one folder up to two levels below it that looks right
    /// (so the folder of a download or repository copy can be given).
    /// </summary>
    static string FindRoot(string raw, string name, string expected, Func<string, bool> looksRight)
    {
        var full = Path.GetFullPath(raw);
        if (!Directory.Exists(full)) throw new UserError($"raw {name} folder {full} does not exist; check the path.");
        if (looksRight(full)) return full;
        IEnumerable<string> Children(string d) =>
            Directory.EnumerateDirectories(d).Where(c => !Path.GetFileName(c).StartsWith('.')).Order(StringComparer.Ordinal);
        var level = Children(full).ToList();
        for (int depth = 1; depth <= 2 && level.Count > 0; depth++)
        {
            var hits = level.Where(looksRight).ToList();
            if (hits.Count == 1) return hits[0];
            if (hits.Count > 1)
                throw new UserError($"{full} holds several folders that look like {name} ({string.Join(", ", hits.Select(h => Path.GetRelativePath(full, h)))}); pass one of them.");
            level = level.SelectMany(Children).ToList();
        }
        throw new UserError($"{full} does not look like {name}: expected {expected}; pass the folder that holds them.");
    }

    static PrepareResult Convert(string dataset, string raw, string root, string output, List<Sample> samples,
        IReadOnlyDictionary<string, int> groups, List<string> skipped, List<string> notes, Action<string>? log, CancellationToken cancel,
        Func<Sample, Converted> convert)
    {
        if (samples.Count == 0) throw new UserError($"no {dataset} image with a mask was found in {root}; check the folder ({skipped.Count} files skipped).");
        using var fresh = UKan.IO.FreshFolder.Create(output, "output folder", [raw]);
        var outFull = fresh.Staging;
        var imagesDir = Path.Combine(outFull, "images");
        var masksDir = Path.Combine(outFull, "masks", "0");
        Directory.CreateDirectory(imagesDir);
        Directory.CreateDirectory(masksDir);

        var failures = new string?[samples.Count];
        var merged = new bool[samples.Count];
        int done = 0;
        Parallel.For(0, samples.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancel }, i =>
        {
            var s = samples[i];
            try
            {
                var c = convert(s);
                if (c.JpegBytes is not null) AtomicFile.WriteAllBytes(Path.Combine(imagesDir, s.Id + ".jpg"), c.JpegBytes);
                else ImageFile.WritePng(Path.Combine(imagesDir, s.Id + ".png"), ImageOps.CompactForStorage(c.Image));
                ImageFile.WritePng(Path.Combine(masksDir, s.Id + ".png"), Mask.BinaryImage(c.Foreground, c.Image.Width, c.Image.Height));
                merged[i] = s.Masks.Length > 1;
            }
            catch (UserError e) { failures[i] = e.Message.TrimEnd('.'); }
            int n = Interlocked.Increment(ref done);
            if (n % 100 == 0) log?.Invoke($"{dataset}: {n}/{samples.Count}");
        });
        skipped.AddRange(failures.Where(f => f is not null)!);
        int written = failures.Count(f => f is null);
        var result = new PrepareResult(dataset, Path.GetFullPath(raw), fresh.Path, written, written, merged.Count(m => m), groups, skipped, notes);
        WriteManifest(result, root, outFull);
        fresh.Commit();
        log?.Invoke($"{dataset}: wrote {written} images and {written} masks to {fresh.Path}"
            + (result.MergedMasks > 0 ? $" ({result.MergedMasks} masks merged from several files)" : "")
            + (skipped.Count > 0 ? $"; skipped {skipped.Count}:" : ""));
        foreach (var s in skipped) log?.Invoke($"  skipped {s}");
        return result;
    }

    static void WriteManifest(PrepareResult r, string root, string folder)
    {
        var json = JsonSerializer.Serialize(new
        {
            dataset = r.Dataset,
            source = r.Source,
            sourceRoot = root,
            date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"),
            tool = $"ukan data prepare {r.Dataset}",
            images = r.Images,
            masks = r.Masks,
            mergedMasks = r.MergedMasks,
            groups = r.Groups,
            skipped = r.Skipped,
            notes = r.Notes,
            layout = "images/<id>.png (Kvasir-SEG: original .jpg bytes), masks/0/<id>.png single-channel 0/255, original resolution",
        }, UKan.IO.JsonFiles.Options);
        AtomicFile.WriteAllText(Path.Combine(folder, "prepare.json"), json + "\n");
    }
}
