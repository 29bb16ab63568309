using UKan.Data;

namespace UKan.Diffusion;

/// <summary>How each dataset's images become 64×64 training images (Diffusion_UKAN/tools @ b20bf63; docs/diffusion.md).</summary>
public enum DiffusionDataset
{
    /// <summary>Centre crop 288×288, then resize to 64×64.</summary>
    Cvc,
    /// <summary>Centre crop 400×400, then resize to 64×64.</summary>
    Busi,
    /// <summary>Five random 64×64 crops per image at native resolution.</summary>
    Glas,
    /// <summary>Centre square crop of the shorter side, then resize (any other folder of images).</summary>
    Generic,
}

/// <summary>
/// The images a DDPM trains on, prepared once at the model's resolution and kept in memory (as the official tools
/// write images_64 folders), with the training-time random horizontal and vertical flips and scaling to [−1, 1].
/// Resizing uses area averaging (anti-aliased, like skimage.transform.resize which the official tools call).
/// </summary>
public sealed class DiffusionData
{
    readonly List<byte[]> images = [];   // RGB, size×size×3
    readonly List<string> names = [];
    public int Size { get; }
    public int Count => images.Count;
    /// <summary>The file names (without extension) <see cref="Save"/> writes.</summary>
    public IReadOnlyList<string> Names => names;

    public DiffusionData(string folder, DiffusionDataset kind, int size = 64, long seed = 0)
    {
        Size = size;
        var (dir, files) = ImageFile.ListImagesOf(folder, "--data");
        if (files.Count == 0) throw new UserError($"--data {folder}: no images (.png, .jpg, .bmp, .tif) in {dir}.");
        var rng = SplitMix64.For(seed);
        foreach (var file in files)
        {
            var img = ImageOps.ToColor8(ImageFile.Read(file), ChannelOrder.Rgb);
            if (kind == DiffusionDataset.Glas)
            {
                if (img.Width < size || img.Height < size) throw new UserError($"{file}: {img.Width}x{img.Height} is smaller than the {size}x{size} crops GlaS training takes.");
                for (int k = 0; k < 5; k++)
                {
                    images.Add(Crop(img, rng.NextInt(img.Width - size + 1), rng.NextInt(img.Height - size + 1), size, size).Pixels8);
                    names.Add($"{Path.GetFileNameWithoutExtension(file)}_{k}");
                }
                continue;
            }
            int side = kind switch { DiffusionDataset.Cvc => 288, DiffusionDataset.Busi => 400, _ => Math.Min(img.Width, img.Height) };
            side = Math.Min(side, Math.Min(img.Width, img.Height));
            var square = Crop(img, (img.Width - side) / 2, (img.Height - side) / 2, side, side);
            images.Add(ImageOps.ResizeArea(square, size, size).Pixels8);
            names.Add(Path.GetFileNameWithoutExtension(file));
        }
    }

    /// <summary>
    /// Writes the prepared images as PNGs (the official images_64 folder: the training set and FID's reference set),
    /// named after their sources, GlaS crops as name_k.png as the official tool names them.
    /// </summary>
    public void Save(string folder)
    {
        UKan.IO.OutputGuard.CreateFolder(Path.GetFullPath(folder), folder, "--out");
        for (int i = 0; i < images.Count; i++)
            ImageFile.WritePng(Path.Combine(folder, names[i] + ".png"), Raster.Create8(Size, Size, 3, images[i]));
    }

    static Raster Crop(Raster img, int x0, int y0, int w, int h)
    {
        var d = new byte[w * h * 3];
        for (int y = 0; y < h; y++) Array.Copy(img.Pixels8, ((y0 + y) * img.Width + x0) * 3, d, y * w * 3, w * 3);
        return Raster.Create8(w, h, 3, d);
    }

    /// <summary>A batch (B, 3, size, size) in [−1, 1] with random flips, as CHW floats.</summary>
    public float[] Batch(IReadOnlyList<int> indices, SplitMix64 rng)
    {
        int hw = Size * Size;
        var data = new float[indices.Count * 3 * hw];
        for (int b = 0; b < indices.Count; b++)
        {
            var img = images[indices[b]];
            bool flipX = rng.NextDouble() < 0.5, flipY = rng.NextDouble() < 0.5;
            for (int y = 0; y < Size; y++)
                for (int x = 0; x < Size; x++)
                {
                    int sx = flipX ? Size - 1 - x : x, sy = flipY ? Size - 1 - y : y;
                    for (int c = 0; c < 3; c++)
                        data[(b * 3 + c) * hw + y * Size + x] = img[(sy * Size + sx) * 3 + c] / 127.5f - 1f;
                }
        }
        return data;
    }
}
