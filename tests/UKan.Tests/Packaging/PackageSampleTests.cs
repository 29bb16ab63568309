using System.Diagnostics;
using System.Text.Json;
using UKan.Data;
using UKan.Tests.Commands;

namespace UKan.Tests.Packaging;

/// <summary>
/// The library as an outside application gets it: UKan.Core packed as a NuGet package into a folder feed, the samples
/// (samples/) restored from that feed with their own nuget.config and built, and the Segment sample's mask compared
/// with <c>ukan predict</c>'s for the same weights and image.
/// </summary>
/// <remarks>
/// Never a stale package: every run packs a version of its own (0.0.0-test.TIME.PID) and restores into a fresh packages
/// folder, with the machine's NuGet cache only as a read-only fallback for the dependencies (TorchSharp, libtorch, ...),
/// so no network is needed when they are cached. The samples are built in a copy (not in samples/, whose bin/ and obj/
/// belong to the user) with the libraries hard-linked from the cache where the file system allows it.
/// The pack uses the UKan.Core that the test build just compiled (<c>--no-build</c>): the package is what
/// <c>dotnet pack</c> makes of it, without a second compilation.
/// </remarks>
public class PackageSampleTests
{
    static readonly TimeSpan BuildTimeout = TimeSpan.FromMinutes(12), RunTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public void The_packed_library_segments_like_ukan_predict()
    {
        var root = SegmenterTests.RepoRoot();
        var temp = Path.Combine(Path.GetTempPath(), $"ukan-package-{Guid.NewGuid():N}");
        try
        {
            var samples = Path.Combine(temp, "samples");
            CopySamples(Path.Combine(root, "samples"), samples);
            var version = $"0.0.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}.{Environment.ProcessId}";
            var feed = Path.Combine(samples, "local-feed");   // the folder the samples' nuget.config names

            // The configuration the tests were built in, hence the one whose UKan.Core.dll is up to date.
            var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Parent!.Name;
            Dotnet(BuildTimeout, "pack", Path.Combine(root, "src", "UKan.Core", "UKan.Core.csproj"), "-c", configuration, "--no-build",
                "-o", feed, $"-p:Version={version}", $"-p:NuspecOutputPath={Path.Combine(temp, "nuspec")}{Path.DirectorySeparatorChar}", "-nologo");
            var package = Path.Combine(feed, $"UKan.Core.{version}.nupkg");
            Assert.True(File.Exists(package), $"dotnet pack made no {package}");
            CheckPackage(package);

            var packages = Path.Combine(temp, "packages");
            Dotnet(BuildTimeout, "build", Path.Combine(samples, "Samples.slnx"), "-c", "Release", "--packages", packages,
                $"-p:RestoreFallbackFolders={GlobalPackagesFolder()}", $"-p:UKanVersion={version}",
                "-p:CreateHardLinksForCopyLocalIfPossible=true", "-nodeReuse:false", "-nologo");
            Assert.True(Directory.Exists(Path.Combine(packages, "ukan.core", version)), "UKan.Core was not restored from the folder feed");

            var app = Directory.GetFiles(Path.Combine(samples, "Segment", "bin"), "Segment.dll", SearchOption.AllDirectories).Single();
            AssertPackageReference(Path.ChangeExtension(app, ".deps.json"), version);

            var (run, _) = BadInputTests.TrainedRun();
            var image = SegmenterTests.DemoImages()[0];
            var mask = Path.Combine(temp, "sample-mask.png");
            var printed = Dotnet(RunTimeout, app, run, image, mask);
            Assert.Contains("foreground pixels", printed);

            var predicted = Path.Combine(temp, "predict");
            var cli = CliRunner.Run("predict", "--weights", run, image, "--out", predicted);
            Assert.True(cli.Code == 0, cli.Stderr);
            var expected = ImageFile.Read(Path.Combine(predicted, Path.GetFileNameWithoutExtension(image) + ".png"));
            var actual = ImageFile.Read(mask);
            Assert.Equal((expected.Width, expected.Height, expected.Channels), (actual.Width, actual.Height, actual.Channels));
            Assert.Equal(expected.Pixels8, actual.Pixels8);
        }
        finally
        {
            try { Directory.Delete(temp, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>
    /// The package's own files: the library, its XML documentation, the README and the embedded font's licence; the
    /// dependencies a consumer gets.
    /// </summary>
    static void CheckPackage(string package)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(package);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        string[] files = ["lib/net10.0/UKan.Core.dll", "lib/net10.0/UKan.Core.xml", "README.md", "licenses/DejaVu-LICENSE.txt"];
        foreach (var expected in files)
            Assert.Contains(expected, names);
        using var nuspec = new StreamReader(zip.GetEntry("UKan.Core.nuspec")!.Open());
        var text = nuspec.ReadToEnd();
        foreach (var dependency in new[] { "\"TorchSharp\"", "\"TorchSharp-cpu\"" }) Assert.Contains(dependency, text);
        Assert.Contains("<license type=\"expression\">MIT</license>", text);
    }

    /// <summary>The app's deps.json names UKan.Core as a package of <paramref name="version"/>, not as a project.</summary>
    static void AssertPackageReference(string depsJson, string version)
    {
        using var deps = JsonDocument.Parse(File.ReadAllText(depsJson));
        var library = deps.RootElement.GetProperty("libraries").GetProperty($"UKan.Core/{version}");
        Assert.Equal("package", library.GetProperty("type").GetString());
    }

    static void CopySamples(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(from, file);
            var parts = relative.Split(Path.DirectorySeparatorChar);
            if (parts.Any(p => p is "bin" or "obj" or "local-feed")) continue;
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    static string GlobalPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    /// <summary>Runs the dotnet host with <paramref name="args"/>; returns its output, fails the test with it otherwise.</summary>
    static string Dotnet(TimeSpan timeout, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        // A build started from inside a test run must not inherit the outer build's MSBuild settings.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            start.Environment.Remove(key);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)}: no result after {timeout.TotalMinutes} min");
        }
        process.WaitForExit();
        var output = stdout.Result + stderr.Result;
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited with {process.ExitCode}:\n{Tail(output)}");
        return output;
    }

    static string Tail(string text) => text.Length <= 4000 ? text : "..." + text[^4000..];
}
