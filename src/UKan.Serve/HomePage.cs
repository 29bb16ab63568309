namespace UKan.Serve;

/// <summary>The page at <c>GET /</c>: one HTML file with its script and style inline, embedded in this assembly.</summary>
static class HomePage
{
    static readonly Lazy<string> html = new(() =>
    {
        using var stream = typeof(HomePage).Assembly.GetManifestResourceStream("UKan.Serve.index.html")
            ?? throw new InvalidOperationException("the page resource UKan.Serve.index.html is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    });

    public static string Html => html.Value;
}
