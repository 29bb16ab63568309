using Microsoft.Playwright;
using UKan.Serve;

namespace UKan.Tests.Serve;

/// <summary>
/// The page of <c>ukan serve</c> in a real browser: Debian's chromium driven by Playwright (its own browser download
/// needs the internet; the system's chromium is used through <c>ExecutablePath</c>). A demo image is chosen in the
/// page, the overlay appears, and the foreground pixel count the page shows is that of <c>ukan predict</c>'s mask.
/// Without a chromium the test fails (CI installs one: .ci/run).
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

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        await page.GotoAsync(url);
        await page.WaitForFunctionAsync("() => document.getElementById('model').textContent.includes('parameters')");

        var file = SegmenterTests.DemoImages()[0];
        await page.SetInputFilesAsync("#file", file);
        await page.WaitForFunctionAsync("() => document.getElementById('overlay').src.startsWith('data:image/png') && document.getElementById('overlay').complete",
            null, new PageWaitForFunctionOptions { Timeout = 60_000 });
        var shown = await page.GetAttributeAsync("#foreground-pixels", "data-pixels");
        long expected = ServedModel.PredictMask(file).Count(v => v != 0);
        Assert.Equal(expected.ToString(), shown);
        Assert.Equal("", (await page.TextContentAsync("#error"))?.Trim());
        // The download link holds the mask itself.
        var href = await page.GetAttributeAsync("#download", "href");
        Assert.StartsWith("data:image/png;base64,", href);
        var mask = UKan.Data.ImageFile.Decode(Convert.FromBase64String(href!["data:image/png;base64,".Length..]), "download");
        Assert.Equal(ServedModel.PredictMask(file), mask.Pixels8);

        var screenshot = Environment.GetEnvironmentVariable("UKAN_SERVE_SCREENSHOT") is { Length: > 0 } path ? path : Path.Combine(Path.GetTempPath(), "ukan-serve-page.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        Assert.True(new FileInfo(screenshot).Length > 10_000);
    }
}
