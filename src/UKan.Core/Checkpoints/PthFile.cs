using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Checkpoints;

/// <summary>
/// Reads the state dict of a PyTorch .pth file (torch.save's zip format: <c>&lt;name&gt;/data.pkl</c> plus one
/// <c>&lt;name&gt;/data/&lt;key&gt;</c> entry per storage) through <see cref="RestrictedUnpickler"/>. Accepts the wrappers real
/// checkpoints use ({"state_dict": ...}, {"model": ...}, {"model_state_dict": ...}, {"net": ...}) and DataParallel's
/// "module." prefixes.
/// </summary>
public static class PthFile
{
    static readonly Dictionary<string, ScalarType> StorageTypes = new()
    {
        ["FloatStorage"] = ScalarType.Float32, ["DoubleStorage"] = ScalarType.Float64, ["HalfStorage"] = ScalarType.Float16,
        ["BFloat16Storage"] = ScalarType.BFloat16, ["LongStorage"] = ScalarType.Int64, ["IntStorage"] = ScalarType.Int32,
        ["ShortStorage"] = ScalarType.Int16, ["CharStorage"] = ScalarType.Int8, ["ByteStorage"] = ScalarType.Byte, ["BoolStorage"] = ScalarType.Bool,
    };

    static readonly string[] Wrappers = ["state_dict", "model", "model_state_dict", "net"];

    public static bool IsZip(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return f.Read(head) == 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4;
    }

    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: file not found.");
        if (new FileInfo(path).Length == 0) throw new UserError($"{path}: the file is empty (0 bytes); it may be a failed download.");
        if (!IsZip(path))
            throw new UserError($"{path}: not a zip-format .pth (legacy torch.save format or another file); re-save it with a recent PyTorch: torch.save(torch.load(f), 'new.pth').");
        ZipArchive zip;
        try { zip = ZipFile.OpenRead(path); }
        catch (InvalidDataException) { throw new UserError($"{path}: corrupt or truncated .pth (the zip directory is unreadable)."); }
        using (zip)
        {
            var pkl = zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("/data.pkl") || e.FullName == "data.pkl")
                ?? throw new UserError($"{path}: a zip without data.pkl is not a torch.save file.");
            var prefix = pkl.FullName[..^"data.pkl".Length];
            var order = zip.GetEntry(prefix + "byteorder");
            if (order is not null && ReadAll(order, path) is var bo && System.Text.Encoding.ASCII.GetString(bo).Trim() != "little")
                throw new UserError($"{path}: big-endian .pth files are not supported.");
            object? root;
            try { root = RestrictedUnpickler.Load(ReadAll(pkl, path), path); }
            catch (InvalidDataException e) { throw new UserError($"{path}: not a readable PyTorch state dict ({e.Message})."); }

            var dict = Unwrap(root, path);
            var storages = new Dictionary<string, Tensor>();
            var result = new Dictionary<string, Tensor>();
            foreach (var (key, value) in dict.Items)
            {
                if (key is not string name) throw new UserError($"{path}: a state-dict key is not a string ({key}).");
                if (name.StartsWith("module.")) name = name["module.".Length..];
                result[name] = Rebuild(value, zip, prefix, storages, path, name);
            }
            return result;
        }
    }

    static PyDict Unwrap(object? root, string path)
    {
        if (root is not PyDict dict) throw new UserError($"{path}: holds no dictionary of tensors (a whole pickled model cannot be read safely; save model.state_dict()).");
        foreach (var w in Wrappers)
            if (dict.Items.FirstOrDefault(kv => kv.Key as string == w).Value is PyDict inner) return inner;
        return dict;
    }

    static Tensor Rebuild(object? value, ZipArchive zip, string prefix, Dictionary<string, Tensor> storages, string path, string name)
    {
        // _rebuild_parameter(data, requires_grad, hooks) wraps _rebuild_tensor_v2(storage, offset, size, stride, ...).
        if (value is PyCall { Callable.Name: var n } p && n.StartsWith("_rebuild_parameter") && p.Args.Length > 0) value = p.Args[0];
        if (value is not PyCall { Callable.Name: "_rebuild_tensor_v2" } call || call.Args.Length < 4)
            throw new UserError($"{path}: entry '{name}' is not a tensor; only tensors are accepted in a state dict.");
        var storageId = (call.Args[0] as PyPersistent)?.Id;
        if (storageId is not [string kind, PyGlobal type, string key, _, var numelObj, ..] || kind != "storage")
            throw new UserError($"{path}: entry '{name}' points to no storage.");
        if (!StorageTypes.TryGetValue(type.Name, out var dtype)) throw new UserError($"{path}: entry '{name}' has an unsupported storage {type}.");
        long numel = Convert.ToInt64(numelObj);
        if (!storages.TryGetValue(key, out var flat))
        {
            var entry = zip.GetEntry(prefix + "data/" + key) ?? throw new UserError($"{path}: storage {key} of '{name}' is missing; the file is truncated.");
            var bytes = ReadAll(entry, path);
            if (bytes.Length < numel * SafeTensors.ElementSize(dtype)) throw new UserError($"{path}: storage {key} of '{name}' is shorter than its {numel} elements; the file is truncated.");
            storages[key] = flat = SafeTensors.FromBytes(bytes.AsSpan(0, (int)(numel * SafeTensors.ElementSize(dtype))), dtype, [numel]);
        }
        long offset = Convert.ToInt64(call.Args[1]);
        var size = ((object?[])call.Args[2]!).Select(Convert.ToInt64).ToArray();
        var stride = ((object?[])call.Args[3]!).Select(Convert.ToInt64).ToArray();
        long last = offset + size.Zip(stride).Sum(t => t.First == 0 ? 0 : (t.First - 1) * t.Second);
        if (size.Any(s => s < 0) || (size.All(s => s > 0) && last >= numel))
            throw new UserError($"{path}: entry '{name}' reaches past its storage; the file is corrupt.");
        return flat.as_strided(size, stride, offset).contiguous();
    }

    static byte[] ReadAll(ZipArchiveEntry entry, string path)
    {
        try
        {
            using var s = entry.Open();
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        }
        catch (InvalidDataException) { throw new UserError($"{path}: corrupt or truncated .pth ({entry.FullName} cannot be read)."); }
    }
}
