using System.Text.Json;
using System.Text.Json.Serialization;

namespace UKan.Evaluation;

/// <summary>
/// The JSON form of evaluation reports (eval, compare, cv): snake_case names, enums in kebab-case, and NaN written as
/// "NaN" (a score that was not computed, or a statistic of no values) instead of failing the whole file.
/// </summary>
public static class ReportJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
}
