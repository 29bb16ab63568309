using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// Runs the project's CUDA kernels on the CPU: the fused program's source (<see cref="FusedCudaKernels.Source"/>, what
/// NVRTC compiles on a GPU machine) compiled with g++ under Emulation/cuda_emulation.h into one of the harnesses in
/// Emulation/, which launch the kernels in the geometry of their C# launchers and exchange raw float32 files.
/// </summary>
static partial class CudaEmulation
{
    static readonly ConcurrentDictionary<string, Lazy<string>> harnesses = new();

    /// <summary>The harness Emulation/<paramref name="name"/>.cpp, compiled once per test process.</summary>
    public static string Harness(string name) => harnesses.GetOrAdd(name, n => new Lazy<string>(() => Compile(n))).Value;

    static string Compile(string name)
    {
        var emulation = Path.Combine(AppContext.BaseDirectory, "Native", "Emulation");
        var dir = Directory.CreateTempSubdirectory($"ukan-emulation-{name}-").FullName;
        var source = Path.Combine(dir, "fused_kernels.cu");
        // Dynamic shared memory has no static counterpart: `extern __shared__ T name[];` becomes the launch's buffer.
        File.WriteAllText(source, DynamicShared().Replace(FusedCudaKernels.Source, "$1* $2 = ($1*)emulated_dynamic_shared.data();"));
        var exe = Path.Combine(dir, name);
        var (code, output) = Execute("g++", "-std=c++20", "-O1", "-pthread", $"-DKERNEL_SOURCE=\"{source}\"", "-I", emulation,
            Path.Combine(emulation, name + ".cpp"), "-o", exe);
        Assert.True(code == 0, $"g++ failed on the kernel source with harness {name}:\n{output}");
        return exe;
    }

    [GeneratedRegex(@"extern __shared__ (\w+) (\w+)\[\];")]
    private static partial Regex DynamicShared();

    /// <summary>Runs a harness with <paramref name="args"/> (numbers in the invariant culture); fails the test on a non-zero exit.</summary>
    public static void Run(string harness, params object[] args)
    {
        var (code, output) = Execute(Harness(harness), args.Select(a => Convert.ToString(a, CultureInfo.InvariantCulture)!).ToArray());
        Assert.True(code == 0, $"{harness} exited with {code}:\n{output}");
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

    /// <summary>
    /// Runs <paramref name="harness"/>, one whose kernels run over rows of planes (command line: Emulation/harness_io.h's
    /// plane_args), on x and dL/dy = <paramref name="gy"/> for (N, C, H, W) x, dense NCHW or channels-last, with
    /// grid.y = <paramref name="chunks"/>. Values are exchanged in the kernels' memory order: NHWC for channels-last
    /// (an image per plane), NCHW otherwise (an image's channel per plane). Returns that order's view of an (N, C, ·, ·)
    /// tensor and a reader of the harness's (N, C, height, width) results, in the same order. With
    /// <paramref name="bf16"/> the harness stores x and dL/dy as bfloat16 (rounded to nearest) and runs the _bf16 entries;
    /// a <paramref name="skip"/> (dL/dy's shape) is written as s, for harnesses that take one.
    /// </summary>
    public static (Func<Tensor, Tensor> Memory, Func<string, long, long, Tensor> Read) RunOnPlanes(string harness, Tensor x, Tensor gy, uint chunks,
        bool bf16 = false, Tensor? skip = null)
    {
        bool last = UKan.Layers.TensorLayout.DenseChannelsLast(x) ?? throw new ArgumentException("x must be dense NCHW or channels-last");
        long n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        Tensor Memory(Tensor t) => last ? t.permute(0, 2, 3, 1) : t;
        var dir = Folder();
        Write(dir, "x", Memory(x));
        Write(dir, "g", Memory(gy));
        if (skip is not null) Write(dir, "s", Memory(skip));
        Run(harness, [dir, last ? n : n * c, h, w, last ? c : 1, chunks, CudaKernelModule.Block, .. bf16 ? new object[] { "bf16" } : []]);
        return (Memory, (name, height, width) => Read(dir, name, last ? [n, height, width, c] : [n, c, height, width]));
    }

    /// <summary>A new folder for one exchange.</summary>
    public static string Folder() => Directory.CreateTempSubdirectory("ukan-emulated-").FullName;

    /// <summary>Writes <paramref name="t"/>'s elements in its logical (row-major) order as raw float32.</summary>
    public static void Write(string dir, string name, Tensor t) =>
        File.WriteAllBytes(Path.Combine(dir, name), MemoryMarshal.AsBytes(t.contiguous().to(float32).data<float>().ToArray().AsSpan()).ToArray());

    /// <summary>
    /// A 3 × 3 convolution's random case from <paramref name="seed"/>: x (N, Cin, H, W), a (Cout, Cin, 3, 3) weight times
    /// <paramref name="weightScale"/>, a bias when <paramref name="withBias"/>, and dL/dy; written to a new folder in the
    /// kernels' channels-last order as x, w, g and b.
    /// </summary>
    public static (string Dir, Tensor X, Tensor Weight, Tensor? Bias, Tensor Gy) ConvCase(int seed, int cin, int cout, int n, int h, int w,
        bool withBias, double weightScale)
    {
        var gen = new Generator((ulong)seed);
        var x = randn(n, cin, h, w, generator: gen);
        var weight = randn(cout, cin, 3, 3, generator: gen) * weightScale;
        var bias = withBias ? randn(cout, generator: gen) : null;
        var gy = randn(n, cout, h, w, generator: gen);
        var dir = Folder();
        static Tensor Nhwc(Tensor t) => t.permute(0, 2, 3, 1);
        Write(dir, "x", Nhwc(x));
        Write(dir, "w", Nhwc(weight));
        Write(dir, "g", Nhwc(gy));
        if (bias is not null) Write(dir, "b", bias);
        return (dir, x, weight, bias, gy);
    }

    /// <summary>
    /// A kernel's float sums against a float64 reference: every value written (outputs start as NaN) and within
    /// <paramref name="relative"/> of the reference's largest magnitude.
    /// </summary>
    public static void AssertNear(Tensor expected, Tensor actual, string what, double relative = 1e-5)
    {
        Assert.False(actual.isnan().any().item<bool>(), $"{what}: a value was not written");
        TestTorch.AssertClose(expected, actual, relative * expected.abs().max().item<double>(), 0, what);
    }

    /// <summary>Reads a raw float32 file as a tensor of <paramref name="shape"/>.</summary>
    public static Tensor Read(string dir, string name, params long[] shape) =>
        tensor(MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir, name))).ToArray()).view(shape);

    /// <summary>A float's round-trip text, for passing scalars to a harness.</summary>
    public static string Text(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
