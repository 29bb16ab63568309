using System.Globalization;

namespace UKan.Data;

public enum IssueSeverity { Error, Warning }

/// <summary>One problem in a dataset folder: what is wrong with which file, and how to fix it.</summary>
public sealed record DataIssue(IssueSeverity Severity, string Path, string Problem, string Fix)
{
    public bool IsError => Severity == IssueSeverity.Error;
    public override string ToString() => $"{(IsError ? "error" : "warning")}: {Path}: {Problem}; {Fix}";
}

/// <summary>The outcome of <see cref="DataCheck.Run"/>: every problem found, and a summary of what is there.</summary>
public sealed class DataCheckReport
{
    public required string Root { get; init; }
    public required int NumClasses { get; init; }
    /// <summary>All problems: folder-level ones first, then by sample id, then other files.</summary>
    public required IReadOnlyList<DataIssue> Issues { get; init; }
    public IEnumerable<DataIssue> Errors => Issues.Where(i => i.IsError);
    public IEnumerable<DataIssue> Warnings => Issues.Where(i => !i.IsError);
    public int ErrorCount => Issues.Count(i => i.IsError);
    public int WarningCount => Issues.Count(i => !i.IsError);
    public bool Ok => ErrorCount == 0;
    /// <summary>Samples with an image file (those training would list).</summary>
    public required int Images { get; init; }
    /// <summary>Mask files matched to an image, per class.</summary>
    public required int[] Masks { get; init; }
    /// <summary>Distinct image sizes (width, height) among the decodable images.</summary>
    public required IReadOnlyCollection<(int Width, int Height)> Sizes { get; init; }
    /// <summary>Foreground fraction of each decodable mask, per class.</summary>
    public required double[][] ForegroundFractions { get; init; }

    /// <summary>One line: images, size range, masks, foreground statistics, problem counts.</summary>
    public string Summary
    {
        get
        {
            var inv = CultureInfo.InvariantCulture;
            var parts = new List<string>();
            if (Sizes.Count == 0) parts.Add($"{Images} images");
            else
            {
                int minW = Sizes.Min(s => s.Width), maxW = Sizes.Max(s => s.Width), minH = Sizes.Min(s => s.Height), maxH = Sizes.Max(s => s.Height);
                string range = minW == maxW && minH == maxH ? $"all {minW}x{minH}" : $"width {minW}-{maxW}, height {minH}-{maxH}, {Sizes.Count} distinct sizes";
                parts.Add($"{Images} images ({range})");
            }
            for (int c = 0; c < NumClasses; c++)
            {
                var f = ForegroundFractions[c];
                string cls = NumClasses == 1 ? "masks" : $"masks of class {c}";
                parts.Add(f.Length == 0 ? $"{Masks[c]} {cls}"
                    : string.Format(inv, "{0} {1} (foreground {2:0.0}% mean, {3:0.0}-{4:0.0}%{5})", Masks[c], cls, 100 * f.Average(), 100 * f.Min(), 100 * f.Max(),
                        f.Count(x => x == 0) is int empty and > 0 ? $", {empty} empty" : ""));
            }
            parts.Add($"{ErrorCount} error{(ErrorCount == 1 ? "" : "s")}, {WarningCount} warning{(WarningCount == 1 ? "" : "s")}");
            return string.Join("; ", parts);
        }
    }
}

/// <summary>
/// Checks a dataset folder (layout of <see cref="SegmentationFolder"/>) completely, decoding every image and mask,
/// and reports every problem at once instead of stopping at the first. Errors stop training; warnings describe
/// what the loader will do with odd data (convert colour masks to grey, threshold soft values, ignore files).
/// </summary>
public static class DataCheck
{
    const string Layout = "a dataset holds images/<id>.png and masks/0/<id>.png (see 'ukan data prepare')";

    /// <param name="labelMaps">Label maps in labels/ (class indices 0..numClasses-1) instead of masks/0..C-1.</param>
    public static DataCheckReport Run(string dir, int numClasses = 1, bool labelMaps = false)
    {
        var scan = FolderScan.Run(dir, numClasses, labelMaps);
        var issues = new List<DataIssue>();
        void Error(string path, string problem, string fix) => issues.Add(new(IssueSeverity.Error, path, problem, fix));
        void Warn(string path, string problem, string fix) => issues.Add(new(IssueSeverity.Warning, path, problem, fix));

        if (!scan.RootExists)
            Error(scan.Root, "the dataset folder does not exist", "check the path");
        else
        {
            if (!scan.ImagesExists) Error(scan.ImagesDir, "the images folder is missing", $"create it; {Layout}");
            else if (scan.Ids.Count == 0) Error(scan.ImagesDir, "the images folder holds no images (.png .jpg .jpeg .bmp .tif .tiff)", "put the images there");
            if (labelMaps && !scan.Classes[0].Exists)
                Error(scan.Classes[0].Dir, "the labels folder is missing", $"create it; label maps go to labels/<id>.png (class indices 0..{numClasses - 1})");
            if (!scan.MasksExists && !labelMaps) Error(scan.MasksDir, "the masks folder is missing", $"create it; {Layout}");
            foreach (var cls in scan.Classes.Where(c => !c.Exists && scan.MasksExists))
                Error(cls.Dir, $"the mask folder of class {cls.Index} is missing",
                    scan.LooseMasks.Count > 0 && cls.Index == 0 ? $"move the {scan.LooseMasks.Count} mask files that lie directly in masks/ into masks/0/" : $"create it and put the class-{cls.Index} masks there");
            foreach (var f in scan.ExtraClassFolders)
                Warn(f, $"not a class folder for {numClasses} class{(numClasses == 1 ? "" : "es")} (expected masks/0..{numClasses - 1}); ignored",
                    "pass --classes N if the dataset has more classes, else remove it");
            if (scan.LooseMasks.Count > 0 && scan.Classes[0].Exists)
                Warn(scan.MasksDir, $"{scan.LooseMasks.Count} image files lie directly in masks/; they are ignored", "move them into masks/0/ or delete them");
        }
        foreach (var (id, files) in scan.DuplicateImages)
            Error(files[0], $"sample id '{id}' has {files.Length} image files ({string.Join(", ", files.Select(Path.GetFileName))})", "keep one of them");
        foreach (var cls in scan.Classes)
            foreach (var (id, files) in cls.Duplicates)
                Error(files[0], $"image '{id}' has {files.Length} mask files ({string.Join(", ", files.Select(Path.GetFileName))})", "keep one of them");

        // Decode every sample (in parallel: this is most of the time), then report in id order.
        var perSample = new (List<DataIssue> Issues, (int, int)? Size, double?[] Foreground)[scan.Ids.Count];
        Parallel.For(0, scan.Ids.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            i => perSample[i] = CheckSample(scan, scan.Ids[i], numClasses));
        var sizes = new HashSet<(int, int)>();
        var fg = Enumerable.Range(0, numClasses).Select(_ => new List<double>()).ToArray();
        foreach (var s in perSample)
        {
            issues.AddRange(s.Issues);
            if (s.Size is { } size) sizes.Add(size);
            for (int c = 0; c < numClasses; c++) if (s.Foreground[c] is double f) fg[c].Add(f);
        }

        foreach (var cls in scan.Classes)
            foreach (var f in cls.Extra)
                Warn(f, "mask without an image (no images/<id>.* for it); ignored", "add its image or delete the mask");
        foreach (var f in scan.Unsupported)
            Warn(f, $"not an image file by its extension ('{Path.GetExtension(f)}'); ignored", "convert it to .png, or remove it from the dataset folder");
        foreach (var f in scan.IgnoredFolders)
            Warn(f, "a sub-folder; its contents are not read", "move its images up a level if they belong to the dataset");

        return new DataCheckReport
        {
            Root = scan.Root,
            NumClasses = numClasses,
            Issues = issues,
            Images = scan.Ids.Count,
            // Label maps: every map holds every class, so each class counts the maps (its share is of pixels).
            Masks = scan.LabelMaps ? Enumerable.Repeat(scan.Classes[0].Masks.Count, numClasses).ToArray() : scan.Classes.Select(c => c.Masks.Count).ToArray(),
            Sizes = sizes,
            ForegroundFractions = fg.Select(l => l.ToArray()).ToArray(),
        };
    }

    static (List<DataIssue>, (int, int)?, double?[]) CheckSample(FolderScan scan, string id, int numClasses)
    {
        var issues = new List<DataIssue>();
        var fg = new double?[scan.LabelMaps ? numClasses : scan.Classes.Length];
        var imagePath = scan.Images[id];
        var image = TryRead(imagePath, issues);
        if (image is not null)
        {
            if (image.Is16Bit)
                issues.Add(new(IssueSeverity.Warning, imagePath, "16-bit image; it is read as 8-bit (value / 257)", "nothing to do unless the detail in the low bits matters; then rescale it yourself"));
        }
        foreach (var cls in scan.Classes.Where(c => c.Exists))
        {
            if (!cls.Masks.TryGetValue(id, out var maskPath))
            {
                issues.Add(new(IssueSeverity.Error, imagePath, $"image without a mask in {Rel(scan, cls.Dir)}/ (looked for {id}.<ext> and {id}_mask.<ext>)",
                    "add the mask, or remove the image"));
                continue;
            }
            var decoded = TryRead(maskPath, issues, keepPaletteIndices: scan.LabelMaps);
            if (decoded is null) continue;
            if (image is not null && (decoded.Width != image.Width || decoded.Height != image.Height))
                issues.Add(new(IssueSeverity.Error, maskPath, $"mask is {decoded.Width}x{decoded.Height} but its image is {image.Width}x{image.Height}",
                    "resize the mask to the image size (nearest neighbour) or replace it"));
            if (scan.LabelMaps)
            {
                CheckLabels(maskPath, decoded, numClasses, issues, fg);
                continue;
            }
            CheckMaskValues(maskPath, decoded, issues);
            var mask = Mask.FromDecoded(maskPath, decoded);
            fg[cls.Index] = mask.ForegroundFraction;
            if (fg[cls.Index] == 0)
                issues.Add(new(IssueSeverity.Warning, maskPath, "mask has no foreground pixels", "fine for an image without the object; otherwise the mask is wrong"));
        }
        return (issues, image is null ? null : (image.Width, image.Height), fg);
    }

    static Raster? TryRead(string path, List<DataIssue> issues, bool keepPaletteIndices = false)
    {
        try { return ImageFile.Read(path, keepPaletteIndices); }
        catch (UserError e)
        {
            // The codec message already names the file; keep only what is wrong.
            var msg = e.Message.StartsWith(path) ? e.Message[path.Length..].TrimStart(':', ' ') : e.Message;
            issues.Add(new(IssueSeverity.Error, path, msg.Split("; ")[0], "replace the file with a valid image, or remove it and its pair"));
            return null;
        }
    }

    static void CheckMaskValues(string path, Raster decoded, List<DataIssue> issues)
    {
        if (decoded.Channels >= 3)
        {
            bool grey = ImageOps.IsGreyInColour(decoded);
            issues.Add(new(IssueSeverity.Warning, path,
                (grey ? "mask stored as colour (R = G = B)" : "colour mask (R, G, B differ)") + (decoded.Channels == 4 ? " with an alpha channel (ignored)" : "")
                + "; it is converted to grey (0.299 R + 0.587 G + 0.114 B)" + (grey ? "" : ", which may not separate the classes you meant"),
                "save masks as single-channel grey 0/255"));
        }
        if (decoded.Is16Bit)
        {
            var values = new SortedSet<int>();
            foreach (var v in decoded.Pixels16) { values.Add(v); if (values.Count > 3) break; }
            if (!values.IsSubsetOf([0, 65535]) && !values.IsSubsetOf([0, 1]))
                // Such a mask is ambiguous (a label map? an intensity?): binarising it could silently train on the wrong foreground.
                issues.Add(new(IssueSeverity.Error, path, "16-bit mask with values other than 0/65535 or 0/1, so the foreground is ambiguous",
                    "save masks as 8-bit grey 0/255 (or 16-bit 0/65535)"));
            return; // 0/65535 → 0/255 and 0/1 → 0/1 are binary after conversion; other values were reported above
        }
        var grey8 = Mask.ToGrey(decoded).Pixels8;
        var hist = new long[256];
        foreach (var v in grey8) hist[v]++;
        bool zeroOne = Enumerable.Range(2, 254).All(v => hist[v] == 0);
        bool zero255 = Enumerable.Range(1, 254).All(v => hist[v] == 0);
        if (zeroOne || zero255) return;
        int max = Array.FindLastIndex(hist, h => h > 0);
        long odd = Enumerable.Range(1, 254).Sum(v => hist[v]);
        var shown = Enumerable.Range(1, 254).Where(v => hist[v] > 0).ToList();
        string values2 = string.Join(", ", shown.Take(8)) + (shown.Count > 8 ? $", ... ({shown.Count} distinct)" : "");
        issues.Add(new(IssueSeverity.Warning, path,
            string.Format(CultureInfo.InvariantCulture, "non-binary mask: {0} of {1} pixels ({2:0.##}%) have values other than 0 and 255 ({3}); foreground is taken as {4}",
                odd, grey8.Length, 100.0 * odd / grey8.Length, values2, max >= 128 ? ">= 128" : "> 0"),
            "fine for soft edges (e.g. JPEG or resized masks); otherwise save masks as 0/255"));
    }

    /// <summary>A label map: one channel (palette indices count as one), every index below the number of classes; class fractions.</summary>
    static void CheckLabels(string path, Raster decoded, int numClasses, List<DataIssue> issues, double?[] fractions)
    {
        if (decoded.Channels != 1)
        {
            issues.Add(new(IssueSeverity.Error, path, $"label map with {decoded.Channels} colour channels; its classes cannot be read",
                "save class indices as 8-bit grey (or a palette PNG)"));
            return;
        }
        var labels = Mask.ToGrey(decoded).Pixels8;
        var hist = new long[256];
        foreach (var v in labels) hist[v]++;
        var outside = Enumerable.Range(numClasses, 256 - numClasses).Where(v => hist[v] > 0).ToList();
        if (outside.Count > 0)
            issues.Add(new(IssueSeverity.Error, path,
                string.Format(CultureInfo.InvariantCulture, "label map with {0} pixel(s) of class {1}, outside 0..{2}",
                    outside.Sum(v => hist[v]), string.Join(", ", outside.Take(8)), numClasses - 1),
                $"fix the map, or pass --classes {outside[^1] + 1} if the dataset has that many classes"));
        for (int c = 0; c < numClasses; c++) fractions[c] = (double)hist[c] / labels.Length;
    }

    static string Rel(FolderScan scan, string path) => Path.GetRelativePath(scan.Root, path);
}
