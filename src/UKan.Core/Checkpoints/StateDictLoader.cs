using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Checkpoints;

/// <summary>Differences between a model's state dict and a file's.</summary>
public sealed record StateDictMatch(IReadOnlyList<string> Missing, IReadOnlyList<string> Unexpected, IReadOnlyList<(string Key, long[] File, long[] Model)> Mismatched)
{
    public bool Ok => Missing.Count == 0 && Unexpected.Count == 0 && Mismatched.Count == 0;

    /// <summary>One line, lists cut after a few names.</summary>
    public string Describe()
    {
        static string List(IEnumerable<string> items, int count) =>
            string.Join(", ", items.Take(3)) + (count > 3 ? $" … and {count - 3} more" : "");
        var parts = new List<string>();
        if (Missing.Count > 0) parts.Add($"{Missing.Count} missing ({List(Missing, Missing.Count)})");
        if (Unexpected.Count > 0) parts.Add($"{Unexpected.Count} unexpected ({List(Unexpected, Unexpected.Count)})");
        if (Mismatched.Count > 0) parts.Add($"{Mismatched.Count} shape mismatch{(Mismatched.Count > 1 ? "es" : "")} ({List(Mismatched.Select(m => $"{m.Key}: file [{string.Join(',', m.File)}] vs model [{string.Join(',', m.Model)}]"), Mismatched.Count)})");
        return string.Join(", ", parts);
    }
}

/// <summary>Copies named tensors into a module's parameters and buffers with strict key and shape matching.</summary>
public static class StateDictLoader
{
    public static StateDictMatch Compare(nn.Module model, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var target = model.state_dict();
        return new StateDictMatch(
            target.Keys.Where(k => !tensors.ContainsKey(k) && !MayBeAbsent(k)).ToList(),
            tensors.Keys.Where(k => !target.ContainsKey(k)).ToList(),
            target.Where(kv => tensors.TryGetValue(kv.Key, out var t) && !t.shape.SequenceEqual(kv.Value.shape))
                .Select(kv => (kv.Key, tensors[kv.Key].shape, kv.Value.shape)).ToList());
    }

    /// <summary>
    /// BatchNorm's step counter, which files saved before PyTorch 0.4.1 lack; PyTorch loads them leaving it at 0, and so
    /// do we (it only matters for momentum-free running statistics, never at inference).
    /// </summary>
    static bool MayBeAbsent(string key) => key.EndsWith(".num_batches_tracked", StringComparison.Ordinal);

    /// <summary>Loads strictly; on any difference throws a one-line UserError listing them and <paramref name="hint"/>.</summary>
    public static void Load(nn.Module model, IReadOnlyDictionary<string, Tensor> tensors, string source,
        string hint = "was it saved for another preset or architecture (--preset, --embed-dims, --mlp, --model)?")
    {
        var match = Compare(model, tensors);
        if (!match.Ok)
            throw new UserError($"{source} does not match the model: {match.Describe()}; {hint}");
        using var _ = no_grad();
        foreach (var (key, value) in model.state_dict())
        {
            if (!tensors.TryGetValue(key, out var t)) continue;   // only keys MayBeAbsent allows
            // Floating values take the model's precision; integer buffers (num_batches_tracked) keep theirs.
            value.copy_(t.is_floating_point() == value.is_floating_point() ? t.to(value.dtype) : t);
        }
        UKan.Layers.KanLinear.RefreshGridCaches(model);
    }

    /// <summary>
    /// Copies every state-dict entry of <paramref name="from"/> into <paramref name="to"/> (same architecture, any
    /// devices). The target's dict is read once: models have hundreds of entries and each state_dict() call builds all.
    /// </summary>
    public static void Copy(nn.Module from, nn.Module to)
    {
        var target = to.state_dict();
        using (no_grad())
            foreach (var (key, value) in from.state_dict()) target[key].copy_(value);
        UKan.Layers.KanLinear.RefreshGridCaches(to);
    }
}
