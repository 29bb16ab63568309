using System.Diagnostics;
using System.Text.RegularExpressions;
using UKan.Data;
using UKan.Evaluation;
using UKan.Plots;
using UKan.Training;

namespace UKan.Tests.Plots;

/// <summary>
/// Figures keep their text on a machine without installed fonts. SkiaSharp's Linux build (the one ScottPlot brings)
/// looks for fonts in /usr/share/fonts only, so a child test process gets an empty tmpfs mounted there, in a user and
/// mount namespace of its own (unshare(1)); without the bundled font that child draws no text at all.
/// </summary>
public class PlotFontTests
{
    const string ProbeVariable = "UKAN_TEST_FONT_PROBE_DIR";
    const string SystemFonts = "/usr/share/fonts";

    [Fact]
    public void Figures_drawn_where_no_font_is_installed_have_their_text()
    {
        if (!OperatingSystem.IsLinux()) Assert.Skip("the font-less machine is simulated with Linux namespaces");
        var dir = Directory.CreateTempSubdirectory("ukan-font-probe-").FullName;
        try
        {
            // The test assembly again, running only Render_figures_for_the_probe (explicit: never runs on its own).
            var self = typeof(PlotFontTests).Assembly.Location;
            var probe = $"{typeof(PlotFontTests).FullName}.{nameof(Render_figures_for_the_probe)}";
            string[] child = [Dotnet(), "exec", self, "-method", probe, "-explicit", "only"];
            bool fontsInstalled = Directory.Exists(SystemFonts)
                && Directory.EnumerateFiles(SystemFonts, "*", SearchOption.AllDirectories).Any();
            string[] hidden =
                ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", $"mount -t tmpfs none {SystemFonts} && exec \"$@\"", "sh"];
            if (fontsInstalled && Run([.. hidden, "true"], dir) is { Code: not 0 } refused)
                Assert.Skip($"cannot hide {SystemFonts} from a child process here (no user namespaces?): {refused.Output.Trim()}");
            var (code, output) = Run(fontsInstalled ? [.. hidden, .. child] : child, dir);
            Assert.True(code == 0, $"the probe process exited with {code}:\n{output}");
            Assert.True(File.Exists(Path.Combine(dir, "ran")), $"the probe test did not run:\n{output}");

            // The title strip of the KAN figure is text only: without a font it is blank.
            var kan = ImageFile.Read(Path.Combine(dir, "kan.png"));
            Assert.True(DarkPixels(kan, 0, 40) > 100, $"the KAN figure's title strip has {DarkPixels(kan, 0, 40)} dark pixels");
            var svg = File.ReadAllText(Path.Combine(dir, "kan.svg"));
            Assert.True(Regex.Count(svg, "<text") >= 3, "the KAN figure's SVG has no <text> elements");
            // Training curves: the title line above the plot frame.
            var curves = ImageFile.Read(Path.Combine(dir, "curves.png"));
            Assert.True(DarkPixels(curves, 0, 18) > 30, $"the curves' title has {DarkPixels(curves, 0, 18)} dark pixels");
            // The paired scatter's title likewise.
            var compare = ImageFile.Read(Path.Combine(dir, "compare.png"));
            Assert.True(DarkPixels(compare, 0, 18) > 30, $"the comparison's title has {DarkPixels(compare, 0, 18)} dark pixels");
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact(Explicit = true)]
    public void Render_figures_for_the_probe()
    {
        var dir = Environment.GetEnvironmentVariable(ProbeVariable);
        if (string.IsNullOrEmpty(dir)) Assert.Skip($"run by {nameof(Figures_drawn_where_no_font_is_installed_have_their_text)}");
        File.WriteAllText(Path.Combine(dir, "ran"), "");
        double[] x = [-1, -0.5, 0, 0.5, 1];
        var curves = Enumerable.Range(1, 3)
            .Select(r => new EdgeCurve(r, 0, r, 1.0 / r, x, x.Select(v => v * r).ToArray(), x, x.Select(v => v * v).ToArray()))
            .ToList();
        var layer = new LayerActivations("encoder.fc1", "linear", 12, curves);
        KanActivationPlot.Save(Path.Combine(dir, "kan.png"), Path.Combine(dir, "kan.svg"), layer, "ranked by test");
        var records = Enumerable.Range(0, 5)
            .Select(e => new EpochRecord(e, 1e-3, 1e-2, 1.0 / (e + 1), 0.1 * e, 1.1 / (e + 1), 0.08 * e, 0.1 * e, 0.07 * e, 0.09 * e,
                Seconds: 1, Best: false))
            .ToList();
        TrainingCurves.Save(Path.Combine(dir, "curves.png"), records);
        var perImage = new[] { 0.0, 0.1 }
            .Select(shift => (IReadOnlyList<ImageMetrics>)Enumerable.Range(0, 6)
                .Select(i => new ImageMetrics($"{i}", default, EmptyCase.None, 0.1 * i + shift, 0.1 * i + shift, 1, 1, 1, 1))
                .ToList())
            .ToList();
        var images = new EvaluationImages("data", ["0"], "test");
        var comparison = new ModelComparison(["runs/a", "runs/b"], images, ComparedMetric.All, perImage, []);
        PairedScatter.Save(Path.Combine(dir, "compare.png"), comparison, ComparedMetric.All[0]);
    }

    /// <summary>Pixels of rows [<paramref name="top"/>, <paramref name="bottom"/>) darker than mid-grey in every channel.</summary>
    static int DarkPixels(Raster image, int top, int bottom)
    {
        var rgb = ImageOps.ToColor8(image).Pixels8;
        int count = 0;
        for (int i = top * image.Width; i < Math.Min(bottom, image.Height) * image.Width; i++)
            if (rgb[3 * i] < 128 && rgb[3 * i + 1] < 128 && rgb[3 * i + 2] < 128) count++;
        return count;
    }

    static string Dotnet() => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    static (int Code, string Output) Run(IReadOnlyList<string> command, string probeDir)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in command.Skip(1)) start.ArgumentList.Add(a);
        start.Environment[ProbeVariable] = probeDir;
        Process process;
        try { process = Process.Start(start)!; }
        catch (System.ComponentModel.Win32Exception e) { Assert.Skip($"cannot start {command[0]}: {e.Message}"); throw; }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(2)))
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"{string.Join(' ', command)}: no result after 2 min");
            }
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }
}
