using System.Globalization;
using UKan.Data;
using UKan.Tests.Commands;

namespace UKan.Tests.Serve;

/// <summary>
/// The model the service tests serve (the tiny trained run the command tests share) with a threshold at the median
/// probability of the first demo image, so that its masks are neither empty nor full, and the masks <c>ukan predict</c>
/// writes for two demo images at that threshold: what the service must answer.
/// </summary>
static class ServedModel
{
    static readonly Lazy<(string Run, float Threshold, Dictionary<string, byte[]> Masks)> state = new(() =>
    {
        var (run, _) = BadInputTests.TrainedRun();
        var images = SegmenterTests.DemoImages();
        float threshold;
        using (var probe = Segmenter.Load(run, new SegmenterOptions { Device = "cpu" }))
        {
            var p = probe.Predict(images[0]).Probabilities.ToArray();
            Array.Sort(p);
            threshold = p[p.Length / 2];
        }
        var output = BadInputTests.Temp();
        var r = CliRunner.Run(["predict", "--weights", run, .. images, "--out", output, "--batch", "1", "--threshold", Format(threshold)]);
        Assert.True(r.Code == 0, r.Stderr);
        var masks = images.ToDictionary(f => f, f => ImageFile.Read(Path.Combine(output, Path.GetFileNameWithoutExtension(f) + ".png")).Pixels8);
        return (run, threshold, masks);
    });

    public static string Run => state.Value.Run;

    public static float Threshold => state.Value.Threshold;

    /// <summary>The 0/255 mask <c>ukan predict</c> wrote for a demo image (<see cref="SegmenterTests.DemoImages"/>).</summary>
    public static byte[] PredictMask(string image) => state.Value.Masks[image];

    public static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);

    public static Segmenter Load() => Segmenter.Load(Run, new SegmenterOptions { Device = "cpu", Threshold = Threshold });
}
