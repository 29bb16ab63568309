using TorchSharp;

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
}

public static class PrecisionSettings
{
    /// <summary>Applies the TF32 switches of <paramref name="precision"/> (no effect on CPU).</summary>
    public static void Apply(Precision precision)
    {
        if (!torch.cuda.is_available()) return;
        torch.backends.cudnn.allow_tf32 = precision != Precision.Fp32Strict;
        torch.backends.cuda.matmul.allow_tf32 = precision == Precision.Tf32;
    }

    /// <summary>Turns on cuDNN's algorithm autotuning where possible (as the official training does); false if unavailable.</summary>
    public static bool EnableCudnnBenchmark(bool on = true)
    {
        if (!torch.cuda.is_available() || !UKan.Native.TorchCudaShim.Available) return false;
        UKan.Native.TorchCudaShim.SetCudnnBenchmark(on);
        return on;
    }

    public static Precision Parse(string text) => text.ToLowerInvariant() switch
    {
        "fp32" => Precision.Fp32,
        "tf32" => Precision.Tf32,
        "fp32-strict" => Precision.Fp32Strict,
        _ => throw new UserError($"--precision {text}: use fp32 (PyTorch's default: TF32 convolutions), tf32 or fp32-strict."),
    };
}
