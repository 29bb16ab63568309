namespace UKan.Serve;

/// <summary>How <c>ukan serve</c> listens and what it accepts; the defaults are the safe ones.</summary>
public sealed record ServeOptions
{
    /// <summary>Default body limit: 20 MB, several times a large photograph or a whole-slide tile.</summary>
    public const long DefaultMaxBodyBytes = 20L * 1024 * 1024;

    /// <summary>The address to bind: loopback unless the user opens it up.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>The port; 0 picks a free one.</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, /v1/* requests must carry it (X-API-Key or Authorization: Bearer).</summary>
    public string? ApiKey { get; init; }

    /// <summary>Largest request body (image bytes); larger ones are answered 413.</summary>
    public long MaxBodyBytes { get; init; } = DefaultMaxBodyBytes;

    /// <summary>Largest image (width × height); larger ones are answered 422 from their header, before decoding.</summary>
    public long MaxPixels { get; init; } = UKan.Data.ImageHeader.DefaultMaxPixels;

    /// <summary>Requests waiting for the model at most; more are answered 503.</summary>
    public int QueueCapacity { get; init; } = 64;

    /// <summary>Images per forward pass at most.</summary>
    public int MaxBatch { get; init; } = 8;

    /// <summary>How long the first request of a batch waits for others to join it.</summary>
    public TimeSpan BatchWindow { get; init; } = TimeSpan.FromMilliseconds(4);
}
