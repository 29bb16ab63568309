using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace UKan.IO;

/// <summary>
/// The one JSON convention of every file the tools write (config.json, eval, bench, prepare, profile, fingerprint,
/// split, diffusion scores): snake_case keys, enum values in kebab-case, indented, non-ASCII kept as it is.
/// Reading is tolerant of the key spellings earlier versions wrote (camelCase or PascalCase): keys are brought to
/// snake_case before they are matched, so a run folder or weights file from an older version still loads.
/// </summary>
public static class JsonFiles
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
        // A score that was not computed, or a statistic of no values, is written as "NaN" instead of failing the file.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        // The files are read by people and scripts, not embedded in HTML: "+" and "é" stay as they are.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary><see cref="Options"/> on one line, without null members: for metadata inside weights files.</summary>
    public static readonly JsonSerializerOptions Compact = new(Options)
    {
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize<T>(T value, JsonSerializerOptions? options = null) => JsonSerializer.Serialize(value, options ?? Options);

    /// <summary>
    /// Reads <paramref name="json"/> as <typeparamref name="T"/>, accepting snake_case, camelCase and PascalCase keys
    /// (<see cref="ToSnakeCase"/>). Throws <see cref="JsonException"/> for text that is not JSON.
    /// </summary>
    public static T? Deserialize<T>(string json, JsonSerializerOptions? options = null)
    {
        var node = JsonNode.Parse(json);
        return node is null ? default : ToSnakeCase(node).Deserialize<T>(options ?? Options);
    }

    /// <summary>
    /// A copy of <paramref name="node"/> with every object key in snake_case ("embedDims" and "EmbedDims" become
    /// "embed_dims"; "embed_dims" stays). Values are left alone: enum spellings are matched by the enum converter. Keys
    /// of dictionaries are renamed too, so a type read this way must not key a dictionary by data (ids, file names).
    /// </summary>
    public static JsonNode ToSnakeCase(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                var copy = new JsonObject();
                foreach (var (key, value) in obj)
                {
                    var name = JsonNamingPolicy.SnakeCaseLower.ConvertName(key);
                    // A file with both spellings of one key keeps the first; later duplicates are dropped.
                    if (!copy.ContainsKey(name)) copy[name] = value is null ? null : ToSnakeCase(value);
                }
                return copy;
            case JsonArray array:
                return new JsonArray(array.Select(v => v is null ? null : ToSnakeCase(v)).ToArray());
            default:
                return node.DeepClone();
        }
    }
}
