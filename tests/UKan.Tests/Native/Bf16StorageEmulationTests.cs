using System.Runtime.InteropServices;
using UKan.Native;
using static TorchSharp.torch;

namespace UKan.Tests.Native;

/// <summary>
/// The kernels' bfloat16 storage (Native/Kernels/storage.cu, compiled on the CPU by <see cref="CudaEmulation"/> with
/// Emulation/bf16_storage_harness.cpp) against torch's own conversions: <c>from_float&lt;bf16_t&gt;</c> must give the
/// bits of torch's float32 → bfloat16 (round to nearest, ties to even) for every kind of value, and <c>to_float</c>
/// those of bfloat16 → float32 (exact) for every one of the 65536 bit patterns. A NaN must stay a NaN and is stored as
/// 0x7FC0, what torch's scalar conversion (c10::BFloat16) writes; its vectorised CPU loop writes 0xFFFF instead, so
/// NaNs are compared as NaNs.
/// </summary>
public class Bf16StorageEmulationTests
{
    [Fact]
    public void Storing_rounds_as_torch_and_widening_is_exact()
    {
        _ = TestTorch.Runtime;
        using var scope = NewDisposeScope();
        var values = Values();
        var dir = CudaEmulation.Folder();
        File.WriteAllBytes(Path.Combine(dir, "x"), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
        CudaEmulation.Run("bf16_storage_harness", dir, values.Length);

        var stored = Floats(dir, "bits").Select(b => (ushort)b).ToArray();
        var torchBits = Bits(tensor(values).to(bfloat16));
        for (int i = 0; i < values.Length; i++)
            Assert.True(float.IsNaN(values[i]) ? stored[i] == 0x7FC0 && IsNaN(torchBits[i]) : stored[i] == torchBits[i],
                $"from_float<bf16_t>({values[i]:G9}, bits 0x{BitConverter.SingleToUInt32Bits(values[i]):X8}) = 0x{stored[i]:X4}, torch 0x{torchBits[i]:X4}");
        // Halfway cases, ties to even: 1 + 2^-8 lies between 1 (even) and 1 + 2^-7; 1 + 3·2^-8 between 1 + 2^-7 (odd)
        // and 1 + 2^-6 (even).
        Assert.Equal(0x3F80, stored[Array.IndexOf(values, 1 + MathF.Pow(2, -8))]);
        Assert.Equal(0x3F82, stored[Array.IndexOf(values, 1 + 3 * MathF.Pow(2, -8))]);

        var patterns = Enumerable.Range(0, 65536).Select(b => (ushort)b).ToArray();
        var widened = Floats(dir, "widened").Select(BitConverter.SingleToUInt32Bits).ToArray();
        var torchWidened = FromBits(patterns).to(float32).data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits).ToArray();
        for (int b = 0; b < patterns.Length; b++)
            Assert.True(widened[b] == torchWidened[b] && widened[b] == (uint)b << 16,
                $"to_float(0x{b:X4}) = bits 0x{widened[b]:X8}, torch 0x{torchWidened[b]:X8}");
    }

    /// <summary>
    /// Random bit patterns (every exponent, subnormals, NaNs with payloads of either sign), the halfway point between
    /// each of random pairs of neighbouring bf16 values and its two float neighbours (ties to even, odd and even low
    /// bits), and the special values: ±0, ±∞, the largest float (rounds to ∞), the smallest subnormal, quiet and
    /// signalling NaNs.
    /// </summary>
    static float[] Values()
    {
        var random = new Random(43);
        var values = new List<float>
        {
            0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.MaxValue, -float.MaxValue, float.Epsilon, -float.Epsilon,
            float.NaN, BitConverter.UInt32BitsToSingle(0x7F800001), BitConverter.UInt32BitsToSingle(0xFFC00001),
            BitConverter.UInt32BitsToSingle(0x7FFFFFFF), 1 + MathF.Pow(2, -8), 1 + 3 * MathF.Pow(2, -8), -(1 + MathF.Pow(2, -8)),
            BitConverter.UInt32BitsToSingle(0x00008000), BitConverter.UInt32BitsToSingle(0x00018000), BitConverter.UInt32BitsToSingle(0x7F7F8000),
        };
        for (int i = 0; i < 20000; i++) values.Add(BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)));
        for (int i = 0; i < 4000; i++)
        {
            uint upper = (uint)random.Next(0, 65536) << 16;
            foreach (uint low in new uint[] { 0x7FFF, 0x8000, 0x8001 }) values.Add(BitConverter.UInt32BitsToSingle(upper | low));
        }
        return [.. values];
    }

    static bool IsNaN(ushort bf16) => (bf16 & 0x7F80) == 0x7F80 && (bf16 & 0x7F) != 0;

    static float[] Floats(string dir, string name) => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir, name))).ToArray();

    /// <summary>A CPU bfloat16 tensor's 16-bit patterns, read at its address.</summary>
    static ushort[] Bits(Tensor t)
    {
        var bits = new short[t.numel()];
        Marshal.Copy(TensorPointer.Of(t.contiguous()), bits, 0, bits.Length);
        return bits.Select(b => (ushort)b).ToArray();
    }

    /// <summary>A CPU bfloat16 tensor holding <paramref name="bits"/>, written at its address.</summary>
    static Tensor FromBits(ushort[] bits)
    {
        var t = zeros(bits.Length, dtype: bfloat16);
        Marshal.Copy(bits.Select(b => (short)b).ToArray(), 0, TensorPointer.Of(t), bits.Length);
        return t;
    }
}
