using System.CommandLine;
using UKan.Diagnostics;

namespace UKan.Cli.Commands;

/// <summary>
/// <c>ukan selftest</c>: numerical checks of the compute device (fused kernels, fast paths, GPU vs CPU, graphs), and the
/// official fixtures' outputs and gradients computed on the device.
/// </summary>
static class SelfTestCommand
{
    public static Command Create()
    {
        var fixtures = new Option<string?>("--fixtures")
        {
            Description = "Folder of the official fixtures (kan_linear.*, ukan_tiny.*) to check on this device. Default: UKAN_FIXTURES, "
                + "else ../shared/fixtures/ukan-reference or tests/fixtures/ukan-reference from the working folder; 'none' skips them.",
        };
        var command = new Command("selftest", "Check the numerics of this device: fused CUDA kernels, fast KAN path, GPU vs CPU model, CUDA graphs, the device data path, official fixtures.");
        command.Options.Add(fixtures);
        command.SetAction(parsed =>
        {
            var folder = FixtureFolder(parsed.GetValue(fixtures));
            var rt = CommandLine.StartTorch(parsed);
            var checks = DeviceParity.Run(rt.Device).ToList();
            checks.AddRange(DataPathParity.Run(rt.Device));
            if (folder is not null) checks.AddRange(FixtureParity.Run(folder, rt.Device));
            var table = new TextTable("check", "max |diff|", "‖diff‖/‖ref‖", "bound", "result");
            foreach (var c in checks) table.Add(c.Name, c.MaxAbs.ToString("E2"), c.RelativeNorm.ToString("E2"), c.Bound.ToString("G2"), c.Passed ? "ok" : "FAILED");
            Console.WriteLine($"device: {rt.Device}; fused kernels: {(UKan.Layers.KanFeatures.CudaKernels(UKan.Native.DeviceIndex.Of(rt.Device)) is null ? "no (" + (UKan.Layers.KanFeatures.CudaProblem ?? "CPU") + ")" : "yes")}; shim: {(UKan.Native.TorchCudaShim.Available ? "yes" : "no (" + UKan.Native.TorchCudaShim.Problem + ")")}; Scalar frees: {UKan.Native.DeferredScalarFree.Status}");
            Console.WriteLine(folder is null
                ? "official fixtures: not found (pass --fixtures <folder of kan_linear.*, ukan_tiny.*>); their checks were skipped"
                : $"official fixtures: {Path.GetFullPath(folder)}");
            Console.Write(table);
            return checks.All(c => c.Passed) ? 0 : 1;
        });
        return command;
    }

    /// <summary>The fixture folder to check, or null to skip; a folder the user names must exist.</summary>
    static string? FixtureFolder(string? option)
    {
        if (option is "none") return null;
        if (option is not null)
            return Directory.Exists(option) ? option : throw new UserError($"--fixtures: folder '{option}' not found; pass the folder that holds kan_linear.json and ukan_tiny.json, or 'none'.");
        if (Environment.GetEnvironmentVariable(ReferenceFixtures.Variable) is { Length: > 0 } env && Directory.Exists(env)) return env;
        return ReferenceFixtures.Locate(".");
    }
}
