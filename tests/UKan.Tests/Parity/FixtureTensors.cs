using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Tests.Parity;

// TEMPORARY minimal safetensors reader for the parity fixtures (F32/F64/I64 only); replaced by
// UKan.Checkpoints.SafeTensors when that lands.
static class FixtureTensors
{
    public static Dictionary<string, Tensor> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var result = new Dictionary<string, Tensor>();
        foreach (var e in doc.RootElement.EnumerateObject())
        {
            if (e.Name == "__metadata__") continue;
            var dtype = e.Value.GetProperty("dtype").GetString();
            var shape = e.Value.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
            var offs = e.Value.GetProperty("data_offsets").EnumerateArray().Select(v => v.GetInt64()).ToArray();
            var span = bytes.AsSpan((int)(8 + n + offs[0]), (int)(offs[1] - offs[0]));
            result[e.Name] = dtype switch
            {
                "F32" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(span).ToArray()).reshape(shape),
                "F64" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(span).ToArray()).reshape(shape),
                "I64" => tensor(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, long>(span).ToArray()).reshape(shape),
                _ => throw new NotSupportedException(dtype),
            };
        }
        return result;
    }
}
