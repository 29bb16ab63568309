namespace UKan.Plots;

/// <summary>
/// The one font of every figure UKan.Core draws: DejaVu Sans, embedded in the assembly. ScottPlot (through SkiaSharp)
/// otherwise draws text with a font found on the machine; where none is installed (minimal Linux images, Docker
/// containers, headless servers) it draws no text at all: PNGs without titles, tick labels or legends, SVGs without
/// &lt;text&gt; elements. With the bundled font the pictures are also the same on every machine.
/// </summary>
public static class PlotFont
{
    /// <summary>The family name figures use (the name inside the bundled font files).</summary>
    public const string Family = "DejaVu Sans";

    static readonly Lazy<bool> Registered = new(Register, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// A new ScottPlot figure whose text (title, axis labels, ticks, legend, text plottables) is drawn in
    /// <see cref="Family"/>. The first call registers the bundled font with ScottPlot and makes it ScottPlot's default
    /// font for the rest of the process, which also applies to figures the host application makes with ScottPlot.
    /// </summary>
    public static ScottPlot.Plot NewPlot()
    {
        _ = Registered.Value;
        return new ScottPlot.Plot();
    }

    static bool Register()
    {
        // First in the list, so that it wins over an installed font of the same name. ScottPlot reads Fonts.Default
        // when a figure (and each label in it) is created, hence the registration before the first figure.
        ScottPlot.Fonts.FontResolvers.Insert(0, new BundledFontResolver());
        ScottPlot.Fonts.Default = Family;
        ScottPlot.Fonts.Sans = Family;
        return true;
    }
}
