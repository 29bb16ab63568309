using static TorchSharp.torch;

namespace UKan.Checkpoints;

/// <summary>
/// Reads the tensors of a weights file a user names: a PyTorch .pth / .pt (zip archive, restricted unpickler) or a
/// safetensors file (ours or anyone's). Our training checkpoints keep the model under "model." beside the optimizer
/// state; those keys come back without the prefix. One place for the checks every --weights option needs.
/// </summary>
public static class WeightsFile
{
    /// <param name="option">The option that named the file, for the messages (--weights, --fid-weights, ...).</param>
    /// <param name="missingHint">Appended to the file-not-found message (e.g. where to download the file).</param>
    /// <returns>The tensors, and the safetensors metadata (empty for a .pth).</returns>
    public static (Dictionary<string, Tensor> Tensors, IReadOnlyDictionary<string, string> Metadata) Read(string path, string option = "--weights", string? missingHint = null)
    {
        if (!File.Exists(path)) throw new UserError($"{option} {path}: file not found{(missingHint is null ? "." : "; " + missingHint)}");
        if (new FileInfo(path).Length == 0) throw new UserError($"{option} {path}: the file is empty (0 bytes); it may be a failed download.");
        if (PthFile.IsZip(path)) return (PthFile.ReadStateDict(path), new Dictionary<string, string>());
        var head = new byte[16];
        int got;
        using (var f = File.OpenRead(path)) got = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        if (!SafeTensors.LooksLikeSafeTensors(head.AsSpan(0, got)))
            throw new UserError($"{option} {path}: neither a PyTorch checkpoint (the zip archive torch.save writes) nor a safetensors file; " +
                                "it may be damaged, an old (pre-1.6) torch.save file (re-save it with a current PyTorch), or not weights at all.");
        var (tensors, meta) = SafeTensors.Read(path);
        if (meta.GetValueOrDefault("ukan.kind")?.EndsWith("checkpoint") == true)
        {
            var model = tensors.Where(kv => kv.Key.StartsWith("model.")).ToDictionary(kv => kv.Key["model.".Length..], kv => kv.Value);
            foreach (var (key, t) in tensors) if (!key.StartsWith("model.")) t.Dispose();
            tensors = model;
        }
        return (tensors, meta);
    }

    /// <summary>The names of floating-point tensors holding NaN or infinite values.</summary>
    public static List<string> NonFinite(IReadOnlyDictionary<string, Tensor> tensors)
    {
        var bad = new List<string>();
        foreach (var (name, t) in tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!t.is_floating_point()) continue;
            using var finite = t.isfinite().all();
            if (!finite.item<bool>()) bad.Add(name);
        }
        return bad;
    }
}
