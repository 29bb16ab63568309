using System.Text;

namespace UKan.Cli;

/// <summary>
/// A plain, never-wrapping text table: columns as wide as their widest cell, numbers right-aligned. Logs and
/// redirected output stay readable, unlike width-limited console tables.
/// </summary>
sealed class TextTable(params string[] headers)
{
    readonly List<string[]> rows = [];

    public TextTable Add(params object?[] cells)
    {
        rows.Add(cells.Select(c => c?.ToString() ?? "").ToArray());
        return this;
    }

    public override string ToString()
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Count == 0 ? 0 : rows.Max(r => i < r.Length ? r[i].Length : 0))).ToArray();
        var sb = new StringBuilder();
        void Line(string[] cells)
        {
            for (int i = 0; i < widths.Length; i++)
            {
                var c = i < cells.Length ? cells[i] : "";
                bool numeric = c.Length > 0 && (char.IsDigit(c[0]) || c[0] == '-') && c.All(ch => char.IsDigit(ch) || ch is ',' or '.' or '-' or '×' or ' ' or '(' or ')' or '–' or '%');
                sb.Append(numeric ? c.PadLeft(widths[i]) : c.PadRight(widths[i]));
                sb.Append(i + 1 < widths.Length ? "  " : "");
            }
            sb.AppendLine();
        }
        Line(headers);
        sb.AppendLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var r in rows) Line(r);
        return sb.ToString();
    }
}
