using UKan.Serve;

namespace UKan.Tests.Serve;

/// <summary>
/// The page of <c>ukan serve</c> in a real browser: Debian's chromium, headless, driven over the DevTools protocol
/// (<see cref="HeadlessChromium"/>). A demo image is chosen in the page's file input, the overlay appears, and the
/// foreground pixel count the page shows is that of <c>ukan predict</c>'s mask. Without a chromium the test fails (CI
/// installs one: .ci/run).
/// </summary>
public class ServePageTests
{
    static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>UKAN_CHROMIUM, else chromium (or chromium-browser) on the PATH.</summary>
    static string? Chromium()
    {
        if (Environment.GetEnvironmentVariable("UKAN_CHROMIUM") is { Length: > 0 } given) return given;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            foreach (var name in new[] { "chromium", "chromium-browser" })
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    [Fact]
    public async Task Uploading_a_demo_image_shows_the_overlay_and_predicts_pixel_count()
    {
        var chromium = Chromium();
        Assert.True(chromium is not null && File.Exists(chromium),
            "no chromium found (set UKAN_CHROMIUM or install it: apt-get install -y chromium); .ci/run installs it");
        _ = TestTorch.Runtime;
        using var segmenter = ServedModel.Load();
        await using var server = SegmentServer.Create(segmenter, new ServeOptions { Port = 0 });
        var url = await server.StartAsync(Ct);

        await using var page = await HeadlessChromium.LaunchAsync(chromium!, 1280, 900, Ct);
        await page.NavigateAsync(url, Ct);
        await page.WaitForAsync("document.getElementById('model').textContent.includes('parameters')", TimeSpan.FromSeconds(30), Ct);

        var file = SegmenterTests.DemoImages()[0];
        await page.SetFileInputAsync("#file", file, Ct);
        await page.WaitForAsync("document.getElementById('overlay').src.startsWith('data:image/png') && document.getElementById('overlay').complete",
            TimeSpan.FromSeconds(60), Ct);
        var shown = (await page.EvaluateAsync("document.getElementById('foreground-pixels').getAttribute('data-pixels')", Ct)).GetString();
        long expected = ServedModel.PredictMask(file).Count(v => v != 0);
        Assert.Equal(expected.ToString(), shown);
        Assert.Equal("", (await page.EvaluateAsync("document.getElementById('error').textContent", Ct)).GetString()?.Trim());
        // The download link holds the mask itself.
        var href = (await page.EvaluateAsync("document.getElementById('download').getAttribute('href')", Ct)).GetString();
        Assert.StartsWith("data:image/png;base64,", href);
        var mask = UKan.Data.ImageFile.Decode(Convert.FromBase64String(href!["data:image/png;base64,".Length..]), "download");
        Assert.Equal(ServedModel.PredictMask(file), mask.Pixels8);

        var screenshot = Environment.GetEnvironmentVariable("UKAN_SERVE_SCREENSHOT") is { Length: > 0 } path ? path : Path.Combine(Path.GetTempPath(), "ukan-serve-page.png");
        await page.ScreenshotAsync(screenshot, Ct);
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }
}
