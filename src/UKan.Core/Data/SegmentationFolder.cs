namespace UKan.Data;

/// <summary>
/// A dataset in the official U-KAN layout (Seg_UKAN/dataset.py; docs/data.md): <c>DIR/images/&lt;id&gt;.&lt;ext&gt;</c> and
/// <c>DIR/masks/&lt;class&gt;/&lt;id&gt;.&lt;ext&gt;</c> for classes 0..C-1 (binary: only <c>masks/0</c>). Mask files may also be
/// named <c>&lt;id&gt;_mask.&lt;ext&gt;</c> (the official BUSI naming). Any of .png .jpg .jpeg .bmp .tif .tiff, in any
/// letter case; names starting with a dot are ignored.
/// <para>
/// Departures from the official loader, which reads only <c>images/*.png</c> and a fixed mask suffix: every
/// supported format is read, and each mask is found under either name. Run <see cref="DataCheck.Run"/> first for a
/// full report; this class only refuses what makes the listing itself wrong (missing folders, no images, one id
/// with two image files) and reports a missing mask when it is loaded.
/// </para>
/// <para>
/// Label maps (mutually exclusive classes, trained with softmax): <c>DIR/images/&lt;id&gt;.&lt;ext&gt;</c> and
/// <c>DIR/labels/&lt;id&gt;.&lt;ext&gt;</c>, one single-channel image per sample whose pixel values are the class indices
/// 0..C-1 (0 = background). 8-bit grey values are the indices; palette PNGs and BMPs are read as their indices, not
/// their colours, so a label map drawn with a palette works as it is. Lossless formats only in practice: JPEG would
/// change the indices at class borders.
/// </para>
/// <para>The listing is fixed at construction; loading only reads files, so loads may run on several threads at once.</para>
/// </summary>
public sealed class SegmentationFolder
{
    readonly FolderScan scan;
    readonly int classes;

    /// <param name="root">The dataset folder (holding <c>images/</c> and <c>masks/</c>, or <c>labels/</c>).</param>
    /// <param name="numClasses">Mask classes: folders <c>masks/0</c> .. <c>masks/{numClasses-1}</c>, or the class indices of label maps.</param>
    /// <param name="labelMaps">Read label maps from <c>labels/</c> instead of binary masks per class.</param>
    public SegmentationFolder(string root, int numClasses = 1, bool labelMaps = false)
    {
        scan = FolderScan.Run(root, numClasses, labelMaps);
        classes = numClasses;
        if (!scan.RootExists) throw new UserError($"dataset folder {scan.Root} does not exist; check the path.");
        if (!scan.ImagesExists) throw new UserError($"{scan.Root} has no images/ folder; a dataset holds images/<id>.png and masks/0/<id>.png (see 'ukan data prepare').");
        if (scan.Ids.Count == 0) throw new UserError($"{scan.ImagesDir} holds no images (.png .jpg .jpeg .bmp .tif .tiff); put the images there.");
        if (scan.DuplicateImages.Count > 0)
        {
            var (id, files) = scan.DuplicateImages[0];
            throw new UserError($"sample id '{id}' has {files.Length} image files ({string.Join(", ", files.Select(Path.GetFileName))}) in {scan.ImagesDir}; keep one (run 'ukan data check {scan.Root}' for all problems).");
        }
        foreach (var cls in scan.Classes)
        {
            if (!cls.Exists && labelMaps)
                throw new UserError($"label map folder {cls.Dir} does not exist; with --loss ce-dice a dataset holds images/<id>.png and labels/<id>.png (class indices 0..{numClasses - 1}).");
            if (!cls.Exists) throw new UserError($"mask folder {cls.Dir} does not exist; masks of class {cls.Index} go there (binary masks: masks/0/<id>.png).");
            if (cls.Duplicates.Count > 0)
            {
                var (id, files) = cls.Duplicates[0];
                throw new UserError($"sample id '{id}' has {files.Length} mask files ({string.Join(", ", files.Select(Path.GetFileName))}) in {cls.Dir}; keep one (run 'ukan data check {scan.Root}' for all problems).");
            }
        }
    }

    public string Root => scan.Root;
    public string ImagesDir => scan.ImagesDir;
    public string MasksDir => scan.MasksDir;
    /// <summary>Classes: target channels (one-hot channels of a label map).</summary>
    public int NumClasses => LabelMaps ? classes : scan.Classes.Length;
    public bool LabelMaps => scan.LabelMaps;
    /// <summary>Mask files per sample: one per class, or the one label map.</summary>
    public int MaskFiles => scan.Classes.Length;

    /// <summary>Sample ids (image file names without extension), in ordinal order, as <c>sorted(glob(...))</c> gives.</summary>
    public IReadOnlyList<string> Ids => scan.Ids;
    public int Count => scan.Ids.Count;

    public string ImagePath(string id) =>
        scan.Images.TryGetValue(id, out var p) ? p : throw new UserError($"no image with id '{id}' in {scan.ImagesDir}; check the id.");

    /// <summary>The mask file of sample <paramref name="id"/> for class <paramref name="classIndex"/>, or null if there is none.</summary>
    public string? FindMaskPath(string id, int classIndex = 0) => Class(classIndex).Masks.GetValueOrDefault(id);

    public string MaskPath(string id, int classIndex = 0) =>
        FindMaskPath(id, classIndex) ?? throw new UserError(
            $"image '{id}' has no mask in {Class(classIndex).Dir} (looked for {id}.<ext> and {id}_mask.<ext>); add it or remove the image.");

    /// <summary>
    /// The image as 8-bit, 3-channel colour in the requested order (U-KAN itself works in BGR, as cv2.imread gives):
    /// grey replicated, alpha dropped, 16-bit scaled by round(v / 257).
    /// </summary>
    public Raster LoadImage(string id, ChannelOrder order) => ImageOps.ToColor8(ImageFile.Read(ImagePath(id)), order);

    /// <summary>The mask of one class: 8-bit grey as stored plus the binarised foreground (rule on <see cref="Mask"/>).</summary>
    public Mask LoadMask(string id, int classIndex = 0)
    {
        var path = MaskPath(id, classIndex);
        return LabelMaps ? LoadLabelMap(path) : Mask.FromDecoded(path, ImageFile.Read(path));
    }

    /// <summary>All class masks of a sample, class 0 first; for label maps the one label map.</summary>
    public Mask[] LoadMasks(string id) => Enumerable.Range(0, MaskFiles).Select(c => LoadMask(id, c)).ToArray();

    /// <summary>A label map as its class indices (palette images as indices), refused when not one channel or out of range.</summary>
    Mask LoadLabelMap(string path)
    {
        var decoded = ImageFile.Read(path, keepPaletteIndices: true);
        if (decoded.Channels != 1)
            throw new UserError($"label map {path} has {decoded.Channels} colour channels; store class indices as 8-bit grey or palette PNG (run 'ukan data check').");
        var labels = new Mask(path, Mask.ToGrey(decoded));
        if (LabelMap.Max(labels.Grey.Pixels8) is var max && max >= classes)
            throw new UserError($"label map {path} holds class {max}, outside 0..{classes - 1}; fix the map or pass --classes {max + 1} (run 'ukan data check').");
        return labels;
    }

    /// <summary>Image and all class masks of a sample, checked to be the same size.</summary>
    public (Raster Image, Mask[] Masks) LoadSample(string id, ChannelOrder order)
    {
        var image = LoadImage(id, order);
        var masks = LoadMasks(id);
        foreach (var m in masks)
            if (m.Width != image.Width || m.Height != image.Height)
                throw new UserError($"mask {m.Path} is {m.Width}x{m.Height} but its image {ImagePath(id)} is {image.Width}x{image.Height}; resize the mask (nearest neighbour) or replace it.");
        return (image, masks);
    }

    FolderScan.ClassScan Class(int classIndex) =>
        classIndex >= 0 && classIndex < scan.Classes.Length ? scan.Classes[classIndex]
        : throw new ArgumentOutOfRangeException(nameof(classIndex), $"class {classIndex} is outside 0..{scan.Classes.Length - 1}");
}
