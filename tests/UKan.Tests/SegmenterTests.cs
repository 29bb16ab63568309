using UKan.Data;
using UKan.Tests.Commands;

namespace UKan.Tests;

/// <summary>
/// The library facade: loads what <c>ukan predict</c> loads, gives its masks whatever way the image arrives (path,
/// stream, decoded raster, batch), and refuses what it cannot use with a <see cref="UserError"/>.
/// </summary>
public class SegmenterTests
{
    static readonly string Demo = Path.Combine(RepoRoot(), "data", "demo", "kvasir-seg-48", "images");

    internal static string RepoRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "UKan.slnx"))) dir = Path.GetDirectoryName(dir);
        return dir ?? throw new InvalidOperationException("the repository root (UKan.slnx) is not above the test binaries");
    }

    /// <summary>Two demo images of different sizes (320x272 and 320x273).</summary>
    internal static string[] DemoImages() => [.. ImageFile.ListImages(Demo).Take(2)];

    static Segmenter Load(SegmenterOptions? options = null)
    {
        _ = TestTorch.Runtime;
        return Segmenter.Load(BadInputTests.TrainedRun().Run, options ?? new SegmenterOptions { Device = "cpu" });
    }

    [Fact]
    public void Path_stream_and_raster_give_the_same_mask()
    {
        using var segmenter = Load();
        var file = DemoImages()[0];
        var fromPath = segmenter.Predict(file);
        using var stream = File.OpenRead(file);
        var fromStream = segmenter.Predict(stream);
        var fromRaster = segmenter.Predict(ImageFile.Read(file));
        var decoded = ImageFile.Read(file);
        Assert.Equal((decoded.Width, decoded.Height), (fromPath.Width, fromPath.Height));
        Assert.Equal(decoded.PixelCount, fromPath.Mask.Length);
        Assert.True(fromPath.Mask.SequenceEqual(fromStream.Mask));
        Assert.True(fromPath.Mask.SequenceEqual(fromRaster.Mask));
        Assert.True(fromPath.Probabilities.SequenceEqual(fromRaster.Probabilities));
        int counted = 0;
        foreach (var m in fromPath.Mask) counted += m;
        Assert.Equal(counted, fromPath.ForegroundPixels);
        Assert.Equal((double)counted / decoded.PixelCount, fromPath.ForegroundFraction, 12);
    }

    [Fact]
    public void Masks_and_probabilities_equal_ukan_predict()
    {
        // One image per forward pass on both sides: batched convolutions may round differently in the last bit.
        var (run, _) = BadInputTests.TrainedRun();
        var output = BadInputTests.Temp();
        var r = CliRunner.Run("predict", "--weights", run, Demo, "--out", output, "--probabilities", "--batch", "1");
        Assert.True(r.Code == 0, r.Stderr);
        using var segmenter = Load();
        foreach (var file in ImageFile.ListImages(Demo).Take(6))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var result = segmenter.Predict(file);
            Assert.Equal(ImageFile.Read(Path.Combine(output, name + ".png")).Pixels8, result.MaskImage().Pixels8);
            Assert.Equal(ImageFile.Read(Path.Combine(output, name + "_prob.png")).Pixels16, result.ProbabilityImage().Pixels16);
        }
    }

    [Fact]
    public void A_batch_gives_what_single_images_give()
    {
        using var segmenter = Load();
        var images = DemoImages().Select(f => ImageFile.Read(f)).ToList();
        var batch = segmenter.Predict(images);
        Assert.Equal(2, batch.Count);
        for (int i = 0; i < images.Count; i++)
        {
            var single = segmenter.Predict(images[i]);
            Assert.Equal((images[i].Width, images[i].Height), (batch[i].Width, batch[i].Height));
            // Batched convolutions may round differently in the last bits: only pixels right at the threshold may differ.
            for (int k = 0; k < single.Mask.Length; k++)
                if (single.Mask[k] != batch[i].Mask[k])
                    Assert.True(Math.Abs(single.Probabilities[k] - 0.5f) < 1e-4f, $"image {i}, pixel {k}: the masks differ away from the threshold");
            Assert.True(MaxDifference(single.Probabilities, batch[i].Probabilities) < 1e-4f);
        }
    }

    static float MaxDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        float max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    [Fact]
    public void Info_describes_the_model_and_its_preprocessing()
    {
        using var segmenter = Load();
        var info = segmenter.Info;
        Assert.Equal("ukan", info.Model);
        Assert.Equal("tiny", info.Preset);
        Assert.Equal((32, 32), (info.InputHeight, info.InputWidth));
        Assert.Equal("official", info.Preprocessing);
        Assert.Equal("bgr", info.ChannelOrder);
        Assert.Equal(403_621, info.ParameterCount);
        Assert.Equal(0.5f, info.Threshold);
        Assert.Equal(Path.GetFullPath(Path.Combine(BadInputTests.TrainedRun().Run, "model.safetensors")), info.Source);
        Assert.Equal("cpu", info.Device);
    }

    [Fact]
    public void The_threshold_option_decides_the_mask()
    {
        using var low = Load(new SegmenterOptions { Device = "cpu", Threshold = 0.01f });
        using var high = Load(new SegmenterOptions { Device = "cpu", Threshold = 0.99f });
        var file = DemoImages()[0];
        var (a, b) = (low.Predict(file), high.Predict(file));
        Assert.True(a.Probabilities.SequenceEqual(b.Probabilities));
        Assert.True(a.ForegroundPixels >= b.ForegroundPixels);
        float max = 0;
        foreach (var p in b.Probabilities) max = Math.Max(max, p);
        Assert.Equal(max > 0.99f, b.ForegroundPixels > 0);
    }

    [Fact]
    public void Images_over_the_pixel_limit_are_refused_before_decoding()
    {
        using var segmenter = Load(new SegmenterOptions { Device = "cpu", PixelLimit = 1000 });
        var e = Assert.Throws<PixelLimitError>(() => segmenter.Predict(DemoImages()[0]));
        Assert.Equal(1000, e.Limit);
        using var fine = Load(new SegmenterOptions { Device = "cpu", PixelLimit = 320 * 273 });
        Assert.Equal(320, fine.Predict(DemoImages()[0]).Width);
    }

    [Fact]
    public void Refuses_what_it_cannot_use()
    {
        _ = TestTorch.Runtime;
        var pth = BadInputTests.Temp() + ".pth";
        File.WriteAllBytes(pth, [1, 2, 3]);
        Assert.Contains("Preset", Assert.Throws<UserError>(() => Segmenter.Load(pth, new SegmenterOptions { Device = "cpu" })).Message);
        Assert.Contains("no such", Assert.Throws<UserError>(() => Segmenter.Load("/nonexistent/run")).Message);
        Assert.Contains("another preset", Assert.Throws<UserError>(() => Load(new SegmenterOptions { Device = "cpu", Preset = "paper" })).Message);
        Assert.Contains("threshold", Assert.Throws<UserError>(() => Load(new SegmenterOptions { Threshold = 1 })).Message);
        Assert.Contains("device", Assert.Throws<UserError>(() => Load(new SegmenterOptions { Device = "gpu" })).Message);
        using var segmenter = Load();
        using var junk = new MemoryStream("not an image"u8.ToArray());
        Assert.Throws<UserError>(() => segmenter.Predict(junk));
        segmenter.Dispose();
        Assert.Throws<ObjectDisposedException>(() => segmenter.Predict(DemoImages()[0]));
    }
}
