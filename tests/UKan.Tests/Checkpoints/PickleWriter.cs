using System.IO.Compression;
using System.Text;

namespace UKan.Tests.Checkpoints;

/// <summary>Writes pickle opcodes by hand, and torch.save-style zip archives around them, for crafted test files.</summary>
sealed class PickleWriter
{
    readonly MemoryStream s = new();
    public PickleWriter() { s.WriteByte(0x80); s.WriteByte(2); }
    public PickleWriter Op(char c) { s.WriteByte((byte)c); return this; }
    public PickleWriter Op(byte b) { s.WriteByte(b); return this; }
    public PickleWriter Mark() => Op('(');
    public PickleWriter Str(string v) { var b = Encoding.UTF8.GetBytes(v); Op('X'); s.Write(BitConverter.GetBytes(b.Length)); s.Write(b); return this; }
    public PickleWriter Int(int v) { Op('J'); s.Write(BitConverter.GetBytes(v)); return this; }
    public PickleWriter Global(string module, string name) { Op('c'); s.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n")); return this; }
    public PickleWriter Tuple() => Op('t');
    public PickleWriter Reduce() => Op('R');
    public PickleWriter EmptyTuple() => Op(')');
    public PickleWriter EmptyDict() => Op('}');
    public PickleWriter SetItems() => Op('u');
    public PickleWriter False() => Op(0x89);
    public PickleWriter PersId() => Op('Q');

    /// <summary>_rebuild_tensor_v2(storage key, offset, size, stride, False, OrderedDict()).</summary>
    public PickleWriter Tensor(string storageType, string key, int numel, int offset, int[] size, int[] stride)
    {
        Global("torch._utils", "_rebuild_tensor_v2").Mark();
        Mark().Str("storage").Global("torch", storageType).Str(key).Str("cpu").Int(numel).Tuple().PersId();
        Int(offset);
        Mark(); foreach (var v in size) Int(v); Tuple();
        Mark(); foreach (var v in stride) Int(v); Tuple();
        False().Global("collections", "OrderedDict").EmptyTuple().Reduce();
        return Tuple().Reduce();
    }

    public byte[] Bytes() { Op('.'); return s.ToArray(); }

    /// <summary>A zip like torch.save writes: name/data.pkl, name/byteorder, name/data/&lt;key&gt;.</summary>
    public static byte[] Archive(byte[] pickle, IReadOnlyDictionary<string, byte[]> storages, string name = "archive")
    {
        using var m = new MemoryStream();
        using (var zip = new ZipArchive(m, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Entry(string path, byte[] data) { using var e = zip.CreateEntry(path, CompressionLevel.NoCompression).Open(); e.Write(data); }
            Entry($"{name}/data.pkl", pickle);
            Entry($"{name}/byteorder", "little"u8.ToArray());
            foreach (var (key, data) in storages) Entry($"{name}/data/{key}", data);
        }
        return m.ToArray();
    }
}
