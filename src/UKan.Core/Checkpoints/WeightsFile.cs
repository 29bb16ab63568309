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
        var (tensors, meta) = SafeTensors.Read(path);
        if (meta.GetValueOrDefault("ukan.kind")?.EndsWith("checkpoint") == true)
        {
            var model = tensors.Where(kv => kv.Key.StartsWith("model.")).ToDictionary(kv => kv.Key["model.".Length..], kv => kv.Value);
            foreach (var (key, t) in tensors) if (!key.StartsWith("model.")) t.Dispose();
            tensors = model;
        }
        return (tensors, meta);
    }
}
