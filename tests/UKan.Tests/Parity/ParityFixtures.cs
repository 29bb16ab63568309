using System.Text.Json;

namespace UKan.Tests.Parity;

/// <summary>
/// Discovers the parity fixtures: every NAME.json with a NAME.safetensors beside it in the fixtures folder:
/// UKAN_FIXTURES when set, else the team's ../shared/fixtures/ukan-reference beside the repository when present,
/// else the copy committed in tests/fixtures/ukan-reference (so that a clean clone tests the same numbers).
/// The json alone decides the configuration; keys it lacks take the official defaults.
/// </summary>
public static class ParityFixtures
{
    public const string Variable = "UKAN_FIXTURES";

    public static string Folder()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } env) return env;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "UKan.slnx")))
            {
                var shared = Path.Combine(dir.FullName, "..", "shared", "fixtures", "ukan-reference");
                return Directory.Exists(shared) ? shared : Path.Combine(dir.FullName, "tests", "fixtures", "ukan-reference");
            }
        throw new InvalidOperationException("repository root (UKan.slnx) not found above the test binaries");
    }

    public sealed record Fixture(string Name, string JsonPath, string TensorsPath, JsonElement Config)
    {
        public override string ToString() => Name;
        public string? PthPath => File.Exists(Path.ChangeExtension(JsonPath, ".pth")) ? Path.ChangeExtension(JsonPath, ".pth") : null;
        public int Int(string key, int fallback) => Config.TryGetProperty(key, out var v) ? v.GetInt32() : fallback;
        public double Double(string key, double fallback) => Config.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        public bool Bool(string key, bool fallback) => Config.TryGetProperty(key, out var v) ? v.GetBoolean() : fallback;
        public string? String(string key) => Config.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }

    public static IEnumerable<Fixture> All()
    {
        var folder = Folder();
        if (!Directory.Exists(folder)) yield break;
        foreach (var json in Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal))
        {
            var tensors = Path.ChangeExtension(json, ".safetensors");
            if (!File.Exists(tensors)) continue;
            using var doc = JsonDocument.Parse(File.ReadAllText(json));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) continue;
            yield return new Fixture(Path.GetFileNameWithoutExtension(json), json, tensors, doc.RootElement.Clone());
        }
    }

    /// <summary>KANLinear fixtures: the json names in_features.</summary>
    public static TheoryData<string> KanLinear() => Names(f => f.Config.TryGetProperty("in_features", out _));

    /// <summary>U-KAN fixtures: the json names embed_dims.</summary>
    public static TheoryData<string> UKan() => Names(f => f.Config.TryGetProperty("embed_dims", out _));

    public static Fixture Get(string name) => All().Single(f => f.Name == name);

    static TheoryData<string> Names(Func<Fixture, bool> kind)
    {
        var data = new TheoryData<string>();
        foreach (var f in All().Where(kind)) data.Add(f.Name);
        return data;
    }
}
