using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Benchmarks;

/// <summary>Numeric modes for GPU work.</summary>
public enum Precision
{
    /// <summary>PyTorch's defaults: float32 with TF32 convolutions (cuDNN) and full-FP32 matrix products.</summary>
    Fp32,
    /// <summary>TF32 for convolutions and matrix products.</summary>
    Tf32,
    /// <summary>Strict float32 everywhere (no TF32).</summary>
    Fp32Strict,
    /// <summary>
    /// Mixed precision: CUDA autocast to bfloat16 (convolutions and matrix products in bf16; fp32 weights, optimizer,
    /// norms, losses and the fused KAN kernels), TF32 convolutions for what stays fp32. CUDA with the libtorch shim only.
    /// </summary>
    Bf16,
}

public static class PrecisionSettings
{
    /// <summary>Applies the TF32 switches of <paramref name="precision"/> (no effect on CPU).</summary>
    public static void Apply(Precision precision)
    {
        if (!torch.cuda.is_available())
        {
            if (precision == Precision.Bf16) throw new UserError("--precision bf16 needs a CUDA device (--device cuda); on the CPU use fp32.");
            return;
        }
        torch.backends.cudnn.allow_tf32 = precision != Precision.Fp32Strict;
        torch.backends.cuda.matmul.allow_tf32 = precision == Precision.Tf32;
        if (precision == Precision.Bf16 && !UKan.Native.TorchCudaShim.Available)
            throw new UserError($"--precision bf16 needs the libtorch shim (CUDA autocast), which could not be built: {UKan.Native.TorchCudaShim.Problem}");
        if (UKan.Native.TorchCudaShim.Available) UKan.Native.TorchCudaShim.SetAutocastBf16(precision == Precision.Bf16);
    }

    /// <summary>
    /// Applies <paramref name="precision"/> for a training run on <paramref name="device"/> and restores PyTorch's
    /// default (fp32 with TF32 convolutions, no autocast) when disposed. Anything but fp32 needs CUDA.
    /// </summary>
    public static IDisposable Scope(Precision precision, torch.Device device)
    {
        if (precision == Precision.Fp32) return new Restore(false);
        if (device.type != DeviceType.CUDA)
            throw new UserError($"--precision {Name(precision)} is for CUDA devices; on {device} use fp32.");
        Apply(precision);
        return new Restore(true);
    }

    sealed class Restore(bool active) : IDisposable
    {
        public void Dispose() { if (active) Apply(Precision.Fp32); }
    }

    public static string Name(Precision precision) => precision switch
    {
        Precision.Fp32Strict => "fp32-strict",
        _ => precision.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// Turns cuDNN's algorithm autotuning on or off (see <see cref="UKan.Training.TrainConfig.CudnnAutotune"/>); true when
    /// it ends up on. <c>UKAN_CUDNN_AUTOTUNE</c> overrides the caller's choice.
    /// </summary>
    public static bool EnableCudnnBenchmark(bool on = true)
    {
        if (!torch.cuda.is_available() || !UKan.Native.TorchCudaShim.Available) return false;
        var setting = Environment.GetEnvironmentVariable("UKAN_CUDNN_AUTOTUNE");
        var (enabled, limit) = CudnnAutotune(setting);
        if (!string.IsNullOrWhiteSpace(setting)) on = enabled;
        UKan.Native.TorchCudaShim.SetCudnnBenchmark(on);
        if (limit is { } n) UKan.Native.TorchCudaShim.SetCudnnBenchmarkLimit(n);
        return on;
    }

    /// <summary>
    /// <c>UKAN_CUDNN_AUTOTUNE</c>: unset = the caller's choice, <c>on</c> = autotuning with PyTorch's candidate limit,
    /// <c>off</c> = cuDNN's heuristics only, a number N = autotuning over N candidates per shape (0 = all). Wrong values
    /// are a user error.
    /// </summary>
    public static (bool Enabled, int? Limit) CudnnAutotune(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "on" => (true, null),
        "off" => (false, null),
        var v when int.TryParse(v, out var n) && n >= 0 => (true, n),
        var v => throw new UserError($"UKAN_CUDNN_AUTOTUNE={v}: use on, off or a number of candidates (0 = all)."),
    };

    public static Precision Parse(string text) => text.ToLowerInvariant() switch
    {
        "fp32" => Precision.Fp32,
        "tf32" => Precision.Tf32,
        "fp32-strict" => Precision.Fp32Strict,
        "bf16" => Precision.Bf16,
        _ => throw new UserError($"--precision {text}: use fp32 (PyTorch's default: TF32 convolutions), tf32, fp32-strict or bf16."),
    };
}
