using System.Globalization;
using System.Text;
using UKan.Data;

namespace UKan.Plots;

/// <summary>
/// Draws <see cref="KanActivations"/> as pykan does: one small panel per edge function in a grid, φ as a solid line
/// with its base and spline terms dashed, the edge and its L1 in the panel's title; a title strip above says how the
/// edges were ranked. PNG and SVG of the same panels (ScottPlot renders both), and the curves as CSV.
/// </summary>
public static class KanActivationPlot
{
    const int PanelWidth = 300, PanelHeight = 230, TitleHeight = 44, Columns = 4, Gap = 4;

    /// <summary>The file name stem of a layer's figures: its module name, dots kept.</summary>
    public static string FileStem(string layer) => string.IsNullOrEmpty(layer) ? "model" : layer.Replace('/', '_');

    /// <summary>Writes <c>stem.png</c> and <c>stem.svg</c> for one layer.</summary>
    public static void Save(string pngPath, string svgPath, LayerActivations layer, string ranking)
    {
        var panels = layer.Curves.Select(c => Panel(layer, c)).ToList();
        var title = layer.Kind == "psi"
            ? $"{layer.Layer}: shared activation psi(u) = w_b*SiLU(u) + w_s*spline(u)"
            : $"{layer.Layer} ({layer.Kind}): top {layer.Curves.Count} of {layer.Edges:N0} edges by L1, {ranking}";
        var header = Header(title);

        var tiles = panels.Select(p => ImageOps.ToColor8(ImageFile.Decode(p.GetImageBytes(PanelWidth, PanelHeight, ScottPlot.ImageFormat.Png), "panel.png"))).ToList();
        var grid = Overlays.Grid(tiles, Columns);
        var headerImage = ImageOps.ToColor8(ImageFile.Decode(header.GetImageBytes(grid.Width, TitleHeight, ScottPlot.ImageFormat.Png), "title.png"));
        ImageFile.WritePng(pngPath, Stack(headerImage, grid));

        int columns = Math.Min(Columns, panels.Count), rows = (panels.Count + columns - 1) / columns;
        int width = columns * PanelWidth + (columns - 1) * Gap, height = TitleHeight + rows * (PanelHeight + Gap);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\">\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>\n");
        svg.Append(Nested(header.GetSvgXml(width, TitleHeight), 0, 0));
        for (int k = 0; k < panels.Count; k++)
            svg.Append(Nested(panels[k].GetSvgXml(PanelWidth, PanelHeight), (k % columns) * (PanelWidth + Gap), TitleHeight + (k / columns) * (PanelHeight + Gap)));
        svg.Append("</svg>\n");
        AtomicFile.WriteAllText(svgPath, svg.ToString());
        foreach (var p in panels.Append(header)) p.Dispose();
    }

    /// <summary>The header line of <see cref="WriteCsv"/>.</summary>
    public const string CsvHeader = "layer,i,j,x,phi,base,spline,rank,l1";

    /// <summary>Every curve point: one row per (layer, edge, x); i, j, rank and l1 are empty for a shared activation ψ.</summary>
    public static void WriteCsv(string path, IEnumerable<LayerActivations> layers)
    {
        var csv = new StringBuilder(CsvHeader).Append('\n');
        foreach (var layer in layers)
            foreach (var c in layer.Curves)
            {
                bool psi = c.Input < 0;
                string edge = psi ? ",," : string.Create(CultureInfo.InvariantCulture, $",{c.Input},{c.Output}");
                string rank = psi ? ",," : string.Create(CultureInfo.InvariantCulture, $",{c.Rank},{c.L1:R}");
                for (int n = 0; n < c.X.Length; n++)
                    csv.Append(layer.Layer).Append(edge)
                       .Append(CultureInfo.InvariantCulture, $",{c.X[n]:R},{c.Phi[n]:R},{c.Base[n]:R},{c.Spline[n]:R}")
                       .Append(rank).Append('\n');
            }
        AtomicFile.WriteAllText(path, csv.ToString());
    }

    static ScottPlot.Plot Panel(LayerActivations layer, EdgeCurve c)
    {
        var plot = PlotFont.NewPlot();
        var phi = plot.Add.ScatterLine(c.X, c.Phi);
        phi.LineWidth = 2.5f;
        phi.Color = ScottPlot.Colors.Black;
        phi.LegendText = "phi";
        var b = plot.Add.ScatterLine(c.X, c.Base);
        b.LinePattern = ScottPlot.LinePattern.Dashed;
        b.Color = ScottPlot.Colors.SteelBlue;
        b.LegendText = "base";
        var s = plot.Add.ScatterLine(c.X, c.Spline);
        s.LinePattern = ScottPlot.LinePattern.Dotted;
        s.Color = ScottPlot.Colors.OrangeRed;
        s.LegendText = "spline";
        plot.Title(c.Input < 0 ? "psi" : string.Create(CultureInfo.InvariantCulture, $"#{c.Rank}  {c.Input} -> {c.Output}  L1 {c.L1:G3}"), size: 12);
        // One legend per figure (the first panel): ScottPlot shows one wherever items carry legend text.
        if (c.Rank <= 1) plot.ShowLegend(ScottPlot.Alignment.UpperLeft);
        else plot.HideLegend();
        return plot;
    }

    static ScottPlot.Plot Header(string title)
    {
        var plot = PlotFont.NewPlot();
        plot.Layout.Frameless();
        plot.HideGrid();
        plot.Axes.SetLimits(0, 1, 0, 1);
        var text = plot.Add.Text(title, 0.01, 0.5);
        text.LabelFontSize = 13;
        text.LabelAlignment = ScottPlot.Alignment.MiddleLeft;
        return plot;
    }

    /// <summary>One figure's SVG placed at (x, y) inside another: the XML declaration dropped, x and y set on its root.</summary>
    static string Nested(string svg, int x, int y)
    {
        int start = svg.IndexOf("<svg", StringComparison.Ordinal);
        return string.Create(CultureInfo.InvariantCulture, $"<svg x=\"{x}\" y=\"{y}\"") + svg[(start + 4)..] + "\n";
    }

    /// <summary>Two RGB images of one width, the first above the second.</summary>
    static Raster Stack(Raster top, Raster bottom)
    {
        var pixels = new byte[(top.Height + bottom.Height) * top.Width * 3];
        top.Pixels8.CopyTo(pixels, 0);
        bottom.Pixels8.CopyTo(pixels, top.Pixels8.Length);
        return Raster.Create8(top.Width, top.Height + bottom.Height, 3, pixels);
    }
}
