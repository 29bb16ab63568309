using SkiaSharp;

namespace UKan.Plots;

/// <summary>
/// Answers ScottPlot's requests for <see cref="PlotFont.Family"/> with the DejaVu Sans regular and bold faces embedded
/// in this assembly (Fonts/, licence in Fonts/LICENSE.txt), read from memory: nothing is looked up on the system and
/// nothing is written to disk. Any other family name is left to the next resolver (ScottPlot's system fonts).
/// </summary>
sealed class BundledFontResolver : ScottPlot.IFontResolver
{
    // The font files' bytes, read once; each request gets its own typeface over the shared data, so a caller that
    // disposes one cannot break the next.
    readonly SKData regular = Load("DejaVuSans.ttf"), bold = Load("DejaVuSans-Bold.ttf");

    public SKTypeface? CreateTypeface(string fontName, ScottPlot.FontWeight weight, ScottPlot.FontSlant slant,
        ScottPlot.FontSpacing width)
    {
        if (!string.Equals(fontName, PlotFont.Family, StringComparison.OrdinalIgnoreCase)) return null;
        // No italic or condensed faces are bundled: those requests get the upright face of the nearest weight.
        return SKTypeface.FromData(weight >= ScottPlot.FontWeight.SemiBold ? bold : regular);
    }

    public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
        CreateTypeface(fontName, bold ? ScottPlot.FontWeight.Bold : ScottPlot.FontWeight.Normal,
            italic ? ScottPlot.FontSlant.Italic : ScottPlot.FontSlant.Upright, ScottPlot.FontSpacing.Normal);

    static SKData Load(string file)
    {
        using var stream = typeof(BundledFontResolver).Assembly.GetManifestResourceStream("UKan.Plots.Fonts." + file)
            ?? throw new InvalidOperationException($"UKan.Core was built without its embedded font {file}.");
        return SKData.Create(stream);
    }
}
