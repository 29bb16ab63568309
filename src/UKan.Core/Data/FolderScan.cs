namespace UKan.Data;

/// <summary>
/// What a dataset folder holds, by file name only (nothing decoded): the listing that both
/// <see cref="SegmentationFolder"/> and <see cref="DataCheck"/> work from.
/// </summary>
sealed class FolderScan
{
    public required string Root { get; init; }
    public string ImagesDir => Path.Combine(Root, "images");
    public string MasksDir => Path.Combine(Root, "masks");
    public bool RootExists { get; init; }
    public bool ImagesExists { get; init; }
    public bool MasksExists { get; init; }
    /// <summary>Sample ids (file name without extension), ordinal order.</summary>
    public List<string> Ids { get; } = [];
    /// <summary>Id → the image file (the first by ordinal name when there are duplicates).</summary>
    public Dictionary<string, string> Images { get; } = new(StringComparer.Ordinal);
    /// <summary>Ids held by more than one image file (e.g. 1.png and 1.jpg).</summary>
    public List<(string Id, string[] Files)> DuplicateImages { get; } = [];
    /// <summary>Files in images/ or masks/*/ that are not images by their extension.</summary>
    public List<string> Unsupported { get; } = [];
    /// <summary>Folders inside images/ or a class folder: not read.</summary>
    public List<string> IgnoredFolders { get; } = [];
    /// <summary>Mask folders: masks/0..C-1, or for label maps the one folder labels/ (see <see cref="SegmentationFolder"/>).</summary>
    public ClassScan[] Classes { get; init; } = [];
    /// <summary>One label map per image in labels/ (class indices) instead of one binary mask per class.</summary>
    public bool LabelMaps { get; init; }
    /// <summary>masks/N folders with N ≥ the number of classes, and other folders in masks/.</summary>
    public List<string> ExtraClassFolders { get; } = [];
    /// <summary>Image files lying directly in masks/ (they belong in masks/0/).</summary>
    public List<string> LooseMasks { get; } = [];

    public sealed class ClassScan
    {
        public required int Index { get; init; }
        public required string Dir { get; init; }
        public bool Exists { get; init; }
        /// <summary>Image id → its mask file, named <c>&lt;id&gt;.&lt;ext&gt;</c> or <c>&lt;id&gt;_mask.&lt;ext&gt;</c>.</summary>
        public Dictionary<string, string> Masks { get; } = new(StringComparer.Ordinal);
        /// <summary>Image ids matched by more than one mask file.</summary>
        public List<(string Id, string[] Files)> Duplicates { get; } = [];
        /// <summary>Mask files whose name matches no image.</summary>
        public List<string> Extra { get; } = [];
    }

    public static FolderScan Run(string root, int numClasses, bool labelMaps = false)
    {
        if (numClasses < 1) throw new UserError($"the number of classes must be at least 1 (got {numClasses}); pass --classes 1 for binary masks.");
        if (File.Exists(root)) throw new UserError($"{root}: is a file; give the dataset folder (the one holding images/ and masks/).");
        root = Path.GetFullPath(root);
        var scan = new FolderScan
        {
            Root = root,
            RootExists = Directory.Exists(root),
            ImagesExists = Directory.Exists(Path.Combine(root, "images")),
            MasksExists = Directory.Exists(Path.Combine(root, "masks")),
            LabelMaps = labelMaps,
            Classes = labelMaps
                ? [new ClassScan { Index = 0, Dir = Path.Combine(root, "labels"), Exists = Directory.Exists(Path.Combine(root, "labels")) }]
                : Enumerable.Range(0, numClasses).Select(c => new ClassScan
                {
                    Index = c,
                    Dir = Path.Combine(root, "masks", c.ToString()),
                    Exists = Directory.Exists(Path.Combine(root, "masks", c.ToString())),
                }).ToArray(),
        };
        if (scan.ImagesExists)
        {
            foreach (var (id, files) in ListByStem(scan.ImagesDir, scan))
            {
                scan.Ids.Add(id);
                scan.Images[id] = files[0];
                if (files.Length > 1) scan.DuplicateImages.Add((id, files));
            }
        }
        if (scan.MasksExists && !labelMaps)
        {
            foreach (var dir in Directory.EnumerateDirectories(scan.MasksDir).Order(StringComparer.Ordinal))
            {
                var name = Path.GetFileName(dir);
                if (!int.TryParse(name, out int c) || c < 0 || c >= numClasses || c.ToString() != name) scan.ExtraClassFolders.Add(dir);
            }
            scan.LooseMasks.AddRange(Directory.EnumerateFiles(scan.MasksDir).Where(f => !Hidden(f) && ImageFile.HasImageExtension(f)).Order(StringComparer.Ordinal));
        }
        foreach (var cls in scan.Classes.Where(c => c.Exists))
        {
            var byStem = ListByStem(cls.Dir, scan).ToDictionary(p => p.Stem, p => p.Files, StringComparer.Ordinal);
            var used = new HashSet<string>(StringComparer.Ordinal);
            foreach (var id in scan.Ids)
            {
                var files = (byStem.GetValueOrDefault(id) ?? []).Concat(byStem.GetValueOrDefault(id + "_mask") ?? []).ToArray();
                if (files.Length == 0) continue;
                cls.Masks[id] = files[0];
                if (files.Length > 1) cls.Duplicates.Add((id, files));
                used.UnionWith(files);
            }
            cls.Extra.AddRange(byStem.Values.SelectMany(f => f).Where(f => !used.Contains(f)).Order(StringComparer.Ordinal));
        }
        return scan;
    }

    static bool Hidden(string path) => Path.GetFileName(path).StartsWith('.');

    /// <summary>Image files of a folder grouped by name without extension, ordinal order; others noted in the scan.</summary>
    static IEnumerable<(string Stem, string[] Files)> ListByStem(string dir, FolderScan scan)
    {
        scan.IgnoredFolders.AddRange(Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal));
        var groups = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var f in Directory.EnumerateFiles(dir).Order(StringComparer.Ordinal))
        {
            if (Hidden(f)) continue;
            if (!ImageFile.HasImageExtension(f)) { scan.Unsupported.Add(f); continue; }
            var stem = Path.GetFileNameWithoutExtension(f);
            if (!groups.TryGetValue(stem, out var list)) groups[stem] = list = [];
            list.Add(f);
        }
        return groups.Select(g => (g.Key, g.Value.ToArray()));
    }
}
