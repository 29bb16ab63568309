using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using UKan.Layers;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The batch norm + ReLU CUDA kernels (Native/Kernels/batch_norm_relu.cu, as embedded in UKan.Core) compiled with g++
/// under Emulation/cuda_emulation.h and launched in the order and geometry of <see cref="BatchNormReluKernels"/>
/// (Emulation/bn_relu_harness.cpp), against <see cref="BatchNormRelu.Torch"/>: the kernels' indexing, per-block
/// reductions, merges and formulas are checked without a GPU. (<c>ukan selftest --device cuda</c> checks them on one.)
/// </summary>
public class BatchNormReluEmulationTests
{
    static readonly Lazy<string> harness = new(Compile);

    static string Compile()
    {
        var emulation = Path.Combine(AppContext.BaseDirectory, "Native", "Emulation");
        var dir = Directory.CreateTempSubdirectory("ukan-emulation-").FullName;
        var source = Path.Combine(dir, "batch_norm_relu.cu");
        File.WriteAllText(source, NativeSources.Read("batch_norm_relu.cu"));
        var exe = Path.Combine(dir, "bn_relu_harness");
        var (code, output) = Execute("g++", "-std=c++20", "-O1", "-pthread", $"-DKERNEL_SOURCE=\"{source}\"", "-I", emulation,
            Path.Combine(emulation, "bn_relu_harness.cpp"), "-o", exe);
        Assert.True(code == 0, $"g++ failed on the kernel source:\n{output}");
        return exe;
    }

    static (int Code, string Output) Execute(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), $"{file} did not finish");
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    static void Write(string dir, string name, Tensor t) =>
        File.WriteAllBytes(Path.Combine(dir, name), MemoryMarshal.AsBytes(t.contiguous().data<float>().ToArray().AsSpan()).ToArray());

    static Tensor Read(string dir, string name, params long[] shape) =>
        tensor(MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir, name))).ToArray()).view(shape);

    /// <summary>
    /// Shapes: a partial tile of 32 channels and few rows; two tiles; 48 blocks down the rows (more partials than a
    /// warp's lanes, so the merge's strided loop and shuffles both run).
    /// </summary>
    [Theory]
    [InlineData(2, 37, 9, 7)]
    [InlineData(4, 64, 16, 16)]
    [InlineData(6, 32, 16, 16)]
    public void The_kernels_compute_the_torch_formulation(int n, int c, int h, int w)
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var gen = new Generator(17);
        var nhwc = randn(n, h, w, c, generator: gen) * 1.7 + 0.4;
        var x = nhwc.permute(0, 3, 1, 2);                                    // channels-last (N, C, H, W)
        var dy = randn(n, h, w, c, generator: gen).permute(0, 3, 1, 2);
        var weight = linspace(0.5, 1.5, c);
        var bias = linspace(-0.3, 0.4, c);
        var runningMean = linspace(-0.1, 0.1, c);
        var runningVar = linspace(0.8, 1.2, c);
        const double eps = 1e-5, momentum = 0.1;
        var (rows, channels, grid) = BatchNormReluKernels.Geometry(x);

        var dir = Directory.CreateTempSubdirectory("ukan-bnrelu-").FullName;
        Write(dir, "x", nhwc);
        Write(dir, "dy", dy.permute(0, 2, 3, 1));
        Write(dir, "w", weight);
        Write(dir, "b", bias);
        Write(dir, "running_mean", runningMean);
        Write(dir, "running_var", runningVar);
        var (code, output) = Execute(harness.Value, dir, rows.ToString(CultureInfo.InvariantCulture), channels.ToString(CultureInfo.InvariantCulture),
            grid.X.ToString(CultureInfo.InvariantCulture), grid.Y.ToString(CultureInfo.InvariantCulture),
            BatchNormReluKernels.MergeWarps.ToString(CultureInfo.InvariantCulture), eps.ToString("R", CultureInfo.InvariantCulture),
            momentum.ToString("R", CultureInfo.InvariantCulture));
        Assert.True(code == 0, output);

        var reference = BatchNormRelu.Torch.Instance;
        var (rm, rv) = (runningMean.clone(), runningVar.clone());
        var (y, mean, invstd) = reference.BatchNormReluForward(x, weight, bias, rm, rv, momentum, eps);
        var (dx, dw, db) = reference.BatchNormReluBackward(x, dy, mean, invstd, weight, bias);
        TestTorch.AssertClose(mean, Read(dir, "mean", c), 1e-6, 1e-5, "mean");
        TestTorch.AssertClose(invstd, Read(dir, "invstd", c), 1e-6, 1e-5, "invstd");
        TestTorch.AssertClose(rm, Read(dir, "running_mean.out", c), 1e-6, 1e-5, "running mean");
        TestTorch.AssertClose(rv, Read(dir, "running_var.out", c), 1e-6, 1e-5, "running variance");
        TestTorch.AssertClose(y.permute(0, 2, 3, 1), Read(dir, "y", n, h, w, c), 1e-5, 1e-5, "output");
        TestTorch.AssertClose(dx.permute(0, 2, 3, 1), Read(dir, "dx", n, h, w, c), 1e-5, 1e-4, "dx");
        TestTorch.AssertClose(dw!, Read(dir, "dw", c), 1e-5, 1e-4, "dw");
        TestTorch.AssertClose(db!, Read(dir, "db", c), 1e-5, 1e-4, "db");
    }
}
