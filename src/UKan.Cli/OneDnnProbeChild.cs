using UKan.Native;

namespace UKan.Cli;

/// <summary>
/// The probe process of <see cref="OneDnnIsa"/>: starts torch on the CPU with oneDNN on under the limit in its
/// environment, runs the convolution probe, prints the result and exits 0 (pass), 1 (wrong results) or 3 (could not run).
/// </summary>
static class OneDnnProbeChild
{
    public static bool Requested => Environment.GetEnvironmentVariable(OneDnnIsa.ProbeChildVariable) == "1";

    public static int Run()
    {
        try
        {
            TorchRuntime.Initialize(new RuntimeOptions(DeviceRequest.Cpu));
            var (worst, failed) = CpuConvolutions.Probe();
            Console.WriteLine(failed is null ? $"pass: worst relative error {worst:E1} under {OneDnnIsa.Describe()}" : $"fail: {failed} under {OneDnnIsa.Describe()}");
            return failed is null ? 0 : 1;
        }
        catch (Exception e)
        {
            Console.WriteLine($"error: {e.Message.Split('\n')[0]}");
            return 3;
        }
    }
}
