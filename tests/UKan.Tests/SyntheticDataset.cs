using UKan.Data;

namespace UKan.Tests;

/// <summary>Small generated segmentation datasets in the official layout (bright discs on noise), for CPU tests.</summary>
public static class SyntheticDataset
{
    public static string Create(int count = 12, int size = 64, int seed = 1)
    {
        var root = Path.Combine(Path.GetTempPath(), $"ukan-synth-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path.Combine(root, "images"));
        Directory.CreateDirectory(Path.Combine(root, "masks", "0"));
        var rng = new Random(seed);
        for (int k = 0; k < count; k++)
        {
            var img = new byte[size * size * 3];
            var mask = new byte[size * size];
            double cx = rng.Next(size / 4, 3 * size / 4), cy = rng.Next(size / 4, 3 * size / 4), r = rng.Next(size / 8, size / 4);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                {
                    bool inside = (x - cx) * (x - cx) + (y - cy) * (y - cy) < r * r;
                    mask[y * size + x] = inside ? (byte)255 : (byte)0;
                    for (int c = 0; c < 3; c++)
                        img[(y * size + x) * 3 + c] = (byte)Math.Clamp((inside ? 170 : 70) + rng.Next(-40, 40) + c * 10, 0, 255);
                }
            var id = $"case{k:D3}";
            ImageFile.WritePng(Path.Combine(root, "images", id + ".png"), Raster.Create8(size, size, 3, img));
            ImageFile.WritePng(Path.Combine(root, "masks", "0", id + ".png"), Raster.Create8(size, size, 1, mask));
        }
        return root;
    }
}
