using System.Text.Json;

namespace UKan.Training;

/// <summary>
/// The settings of a <c>ukan cv</c> folder (its cv.json): the training recipe every fold uses (its
/// <see cref="TrainConfig.Output"/> is the cv folder, <see cref="TrainConfig.DataSeed"/> the split seed), the
/// number of folds, the test share and the split file the splits came from, if any.
/// </summary>
public sealed record CrossValidationConfig
{
    public required TrainConfig Train { get; init; }
    public int Folds { get; init; } = 5;
    public double TestFraction { get; init; } = 0.2;
    public string? SplitFile { get; init; }

    public string ToJson() => UKan.IO.JsonFiles.Serialize(this);

    public static CrossValidationConfig Load(string path)
    {
        try
        {
            return UKan.IO.JsonFiles.Deserialize<CrossValidationConfig>(File.ReadAllText(path)) is { Train: not null } c ? c
                : throw new UserError($"{path}: empty; the cv folder is damaged (restore cv.json, or start a new cv folder).");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new UserError($"{path}: damaged ({e.Message.Split(". ")[0]}); restore it, or start a new cv folder.");
        }
    }

    /// <summary>
    /// The first setting in which <paramref name="other"/> differs from this one, as "name: this → other", or null.
    /// Compares the JSON forms, so that every setting counts, including ones added later.
    /// </summary>
    public string? FirstDifference(CrossValidationConfig other)
    {
        static Dictionary<string, string> Flat(CrossValidationConfig c)
        {
            var flat = new Dictionary<string, string>();
            void Walk(JsonElement e, string name)
            {
                if (e.ValueKind == JsonValueKind.Object)
                    foreach (var p in e.EnumerateObject()) Walk(p.Value, name.Length == 0 ? p.Name : $"{name}.{p.Name}");
                else flat[name] = e.GetRawText();
            }
            using var doc = JsonDocument.Parse(c.ToJson());
            Walk(doc.RootElement, "");
            return flat;
        }
        var (a, b) = (Flat(this), Flat(other));
        foreach (var key in a.Keys.Union(b.Keys))
        {
            var (x, y) = (a.GetValueOrDefault(key, "(none)"), b.GetValueOrDefault(key, "(none)"));
            if (x != y) return $"{key}: {x} → {y}";
        }
        return null;
    }
}
