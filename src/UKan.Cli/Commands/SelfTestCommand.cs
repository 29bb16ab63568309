using System.CommandLine;
using UKan.Diagnostics;

namespace UKan.Cli.Commands;

/// <summary><c>ukan selftest</c>: numerical checks of the compute device (fused kernels, fast paths, GPU vs CPU, graphs).</summary>
static class SelfTestCommand
{
    public static Command Create()
    {
        var command = new Command("selftest", "Check the numerics of this device: fused CUDA kernels, fast KAN path, GPU vs CPU model, CUDA graphs.");
        command.SetAction(parsed =>
        {
            var rt = CommandLine.StartTorch(parsed);
            var checks = DeviceParity.Run(rt.Device);
            var table = new TextTable("check", "max |diff|", "‖diff‖/‖ref‖", "bound", "result");
            foreach (var c in checks) table.Add(c.Name, c.MaxAbs.ToString("E2"), c.RelativeNorm.ToString("E2"), c.Bound.ToString("E0"), c.Passed ? "ok" : "FAILED");
            Console.WriteLine($"device: {rt.Device}; fused kernels: {(UKan.Layers.KanFeatures.CudaKernels(UKan.Native.DeviceIndex.Of(rt.Device)) is null ? "no (" + (UKan.Layers.KanFeatures.CudaProblem ?? "CPU") + ")" : "yes")}; shim: {(UKan.Native.TorchCudaShim.Available ? "yes" : "no (" + UKan.Native.TorchCudaShim.Problem + ")")}");
            Console.Write(table);
            return checks.All(c => c.Passed) ? 0 : 1;
        });
        return command;
    }
}
