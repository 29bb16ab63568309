using System.CommandLine;

namespace UKan.Cli;

/// <summary>
/// A run continued with --resume keeps the settings in its config.json; an option given beside --resume would
/// silently do nothing, so it is refused, naming the value the run has.
/// </summary>
static class ResumeConflicts
{
    /// <param name="allowed">Options that --resume does use (e.g. --resume itself, --epochs).</param>
    /// <param name="runValue">The run's value for an option name, or null when unknown.</param>
    public static void Refuse(ParseResult parsed, Command command, string runDir, IReadOnlySet<string> allowed, Func<string, string?> runValue)
    {
        foreach (var option in command.Options)
        {
            if (allowed.Contains(option.Name) || parsed.GetResult(option) is not { Implicit: false } result) continue;
            var given = string.Join(' ', result.Tokens.Select(t => t.Value));
            var value = runValue(option.Name);
            throw new UserError($"{option.Name}{(given.Length > 0 ? " " + given : "")}: a run continued with --resume keeps its own settings" +
                                $"{(value is null ? "" : $" (the run in {runDir} has {option.Name} {value})")}; drop {option.Name} (only {string.Join(", ", allowed.Where(a => a != "--resume"))} can change).");
        }
    }
}
