using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Checkpoints;

/// <summary>
/// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length, a JSON header mapping
/// each name to {dtype, shape, data_offsets} (plus optional "__metadata__": string → string), then the raw
/// little-endian tensor bytes. Names are written sorted, as the reference library does.
/// </summary>
public static class SafeTensors
{
    static readonly (string Code, ScalarType Type, int Size)[] Types =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    public static int ElementSize(ScalarType t) => Types.FirstOrDefault(x => x.Type == t).Size is > 0 and var s ? s
        : throw new NotSupportedException($"dtype {t} cannot be stored in safetensors here");

    /// <summary>Writes tensors (any device, any layout) and metadata atomically.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Value)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var names = new HashSet<string>();
        foreach (var (name, _) in items)
            if (!names.Add(name)) throw new ArgumentException($"tensor name '{name}' appears twice");
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, value) in items)
        {
            var code = Types.FirstOrDefault(x => x.Type == value.dtype).Code ?? throw new NotSupportedException($"{name}: dtype {value.dtype} cannot be stored in safetensors here");
            long bytes = value.numel() * ElementSize(value.dtype);
            header[name] = new { dtype = code, shape = value.shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int pad = (8 - json.Length % 8) % 8;   // align the data section to 8 bytes, padding the header with spaces
        UKan.AtomicFile.Write(path, stream =>
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)(json.Length + pad));
            stream.Write(len);
            stream.Write(json);
            for (int i = 0; i < pad; i++) stream.WriteByte((byte)' ');
            foreach (var (_, value) in items)
            {
                using var scope = NewDisposeScope();
                var cpu = value.detach().cpu().contiguous();
                stream.Write(Bytes(cpu));
            }
        });
    }

    /// <summary>Reads every tensor (on the CPU, dtype preserved) and the metadata; corrupt files give a UserError.</summary>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: file not found.");
        var bytes = File.ReadAllBytes(path);
        return Parse(bytes, path);
    }

    public static bool LooksLikeSafeTensors(ReadOnlySpan<byte> head) =>
        head.Length >= 9 && BinaryPrimitives.ReadUInt64LittleEndian(head) is > 1 and < 100_000_000 && head[8] == (byte)'{';

    public static (Dictionary<string, Tensor>, Dictionary<string, string>) Parse(byte[] bytes, string name)
    {
        if (bytes.Length < 8) throw new UserError($"{name}: not a safetensors file ({bytes.Length} bytes; it may be truncated).");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength == 0 || headerLength > (ulong)(bytes.Length - 8))
            throw new UserError($"{name}: corrupt or truncated safetensors file (header of {headerLength} bytes in a file of {bytes.Length}).");
        long dataStart = 8 + (long)headerLength, dataLength = bytes.Length - dataStart;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength)); }
        catch (JsonException) { throw new UserError($"{name}: corrupt safetensors header (not JSON)."); }
        using (doc)
        {
            var tensors = new Dictionary<string, Tensor>();
            var metadata = new Dictionary<string, string>();
            var ranges = new List<(long Begin, long End, string Name)>();
            try
            {
                foreach (var entry in doc.RootElement.EnumerateObject())
                {
                    if (entry.Name == "__metadata__")
                    {
                        foreach (var m in entry.Value.EnumerateObject()) metadata[m.Name] = m.Value.GetString() ?? "";
                        continue;
                    }
                    var code = entry.Value.GetProperty("dtype").GetString();
                    var type = Types.FirstOrDefault(x => x.Code == code);
                    if (type.Code is null) throw new UserError($"{name}: tensor '{entry.Name}' has unknown dtype {code}.");
                    var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(v => v.GetInt64()).ToArray();
                    var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(v => v.GetInt64()).ToArray();
                    long count = shape.Aggregate(1L, (a, b) => a * b);
                    if (shape.Any(d => d < 0) || offsets.Length != 2 || offsets[0] < 0 || offsets[1] > dataLength || offsets[1] - offsets[0] != count * type.Size)
                        throw new UserError($"{name}: tensor '{entry.Name}' points outside the file or has the wrong size; the file is corrupt or truncated.");
                    ranges.Add((offsets[0], offsets[1], entry.Name));
                    tensors[entry.Name] = FromBytes(bytes.AsSpan((int)(dataStart + offsets[0]), (int)(offsets[1] - offsets[0])), type.Type, shape);
                }
            }
            catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new UserError($"{name}: corrupt safetensors header ({e.Message.Split('.')[0]}).");
            }
            ranges.Sort();
            for (int i = 1; i < ranges.Count; i++)
                if (ranges[i].Begin < ranges[i - 1].End)
                    throw new UserError($"{name}: tensors '{ranges[i - 1].Name}' and '{ranges[i].Name}' overlap; the file is corrupt.");
            return (tensors, metadata);
        }
    }

    /// <summary>A contiguous CPU tensor's bytes (little-endian on every platform .NET runs TorchSharp on).</summary>
    public static byte[] Bytes(Tensor cpu) => cpu.dtype switch
    {
        ScalarType.Float64 => MemoryMarshal.AsBytes(cpu.data<double>().ToArray().AsSpan()).ToArray(),
        ScalarType.Float32 => MemoryMarshal.AsBytes(cpu.data<float>().ToArray().AsSpan()).ToArray(),
        // 16-bit floats through float32, which holds every fp16 and bf16 value exactly.
        ScalarType.Float16 => MemoryMarshal.AsBytes(cpu.to(ScalarType.Float32).data<float>().ToArray().Select(f => BitConverter.HalfToInt16Bits((Half)f)).ToArray().AsSpan()).ToArray(),
        ScalarType.BFloat16 => MemoryMarshal.AsBytes(cpu.to(ScalarType.Float32).data<float>().ToArray().Select(f => (short)(BitConverter.SingleToInt32Bits(f) >> 16)).ToArray().AsSpan()).ToArray(),
        ScalarType.Int16 => MemoryMarshal.AsBytes(cpu.data<short>().ToArray().AsSpan()).ToArray(),
        ScalarType.Int64 => MemoryMarshal.AsBytes(cpu.data<long>().ToArray().AsSpan()).ToArray(),
        ScalarType.Int32 => MemoryMarshal.AsBytes(cpu.data<int>().ToArray().AsSpan()).ToArray(),
        ScalarType.Int8 => MemoryMarshal.AsBytes(cpu.data<sbyte>().ToArray().AsSpan()).ToArray(),
        ScalarType.Byte => cpu.data<byte>().ToArray(),
        ScalarType.Bool => cpu.data<bool>().ToArray().Select(b => b ? (byte)1 : (byte)0).ToArray(),
        _ => throw new NotSupportedException($"dtype {cpu.dtype}"),
    };

    /// <summary>A CPU tensor of <paramref name="type"/> and <paramref name="shape"/> from little-endian bytes.</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> data, ScalarType type, long[] shape) => type switch
    {
        ScalarType.Float64 => tensor(MemoryMarshal.Cast<byte, double>(data).ToArray()).reshape(shape),
        ScalarType.Float32 => tensor(MemoryMarshal.Cast<byte, float>(data).ToArray()).reshape(shape),
        ScalarType.Float16 => tensor(MemoryMarshal.Cast<byte, short>(data).ToArray().Select(b => (float)BitConverter.Int16BitsToHalf(b)).ToArray()).to(type).reshape(shape),
        ScalarType.BFloat16 => tensor(MemoryMarshal.Cast<byte, short>(data).ToArray().Select(b => BitConverter.Int32BitsToSingle(b << 16)).ToArray()).to(type).reshape(shape),
        ScalarType.Int16 => tensor(MemoryMarshal.Cast<byte, short>(data).ToArray()).reshape(shape),
        ScalarType.Int64 => tensor(MemoryMarshal.Cast<byte, long>(data).ToArray()).reshape(shape),
        ScalarType.Int32 => tensor(MemoryMarshal.Cast<byte, int>(data).ToArray()).reshape(shape),
        ScalarType.Int8 => tensor(MemoryMarshal.Cast<byte, sbyte>(data).ToArray()).reshape(shape),
        ScalarType.Byte => tensor(data.ToArray()).reshape(shape),
        ScalarType.Bool => tensor(data.ToArray().Select(b => b != 0).ToArray()).reshape(shape),
        _ => throw new NotSupportedException($"dtype {type}"),
    };
}
