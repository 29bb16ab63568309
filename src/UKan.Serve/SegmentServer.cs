using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace UKan.Serve;

/// <summary>
/// <c>ukan serve</c>: a <see cref="Segmenter"/> behind an HTTP API (ASP.NET Core minimal API, Kestrel) and a page.
/// <list type="bullet">
/// <item><c>POST /v1/segment</c>: an image as the body (or the first file of a multipart form) → the mask as PNG, or
/// JSON (foreground, probability summary, contour polygons) with <c>Accept: application/json</c> or <c>?format=json</c>;
/// <c>images=true</c> adds the mask and overlay PNGs to the JSON (the page uses it).</item>
/// <item><c>GET /v1/model</c>: what is loaded and how images are prepared; <c>GET</c> or <c>HEAD /healthz</c>; <c>GET /</c>: the page.</item>
/// </list>
/// Every error is a JSON body (<see cref="ApiError"/>). Images are decoded on the requests' threads and segmented in
/// micro-batches (<see cref="BatchQueue"/>). Stopping (Ctrl-C, SIGTERM, <see cref="StopAsync"/>) stops taking
/// connections and finishes the requests in flight.
/// </summary>
public sealed class SegmentServer : IAsyncDisposable
{
    readonly WebApplication app;
    readonly BatchQueue queue;
    readonly Segmenter segmenter;
    bool disposed;

    SegmentServer(WebApplication app, BatchQueue queue, Segmenter segmenter) => (this.app, this.queue, this.segmenter) = (app, queue, segmenter);

    /// <summary>
    /// Builds the service around <paramref name="segmenter"/> (which it does not dispose).
    /// <paramref name="configure"/> may change the host before it is built (tests put an in-memory server in place of Kestrel).
    /// </summary>
    public static SegmentServer Create(Segmenter segmenter, ServeOptions options, Action<WebApplicationBuilder>? configure = null)
    {
        Validate(options);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        // A failed start (e.g. the port in use) reaches the caller as an exception, which 'ukan serve' turns into one
        // line; the host would also log it, stack trace included.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
        builder.Services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(o => o.MultipartBodyLengthLimit = options.MaxBodyBytes);
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Room for multipart headers around an image of the largest size; the image bytes are counted exactly later.
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes + 64 * 1024;
            k.AddServerHeader = false;
            var address = options.Host == "localhost" ? IPAddress.Loopback : IPAddress.Parse(options.Host);
            k.Listen(address, options.Port);
        });
        configure?.Invoke(builder);
        var app = builder.Build();
        var queue = new BatchQueue(segmenter, options.QueueCapacity, options.MaxBatch, options.BatchWindow);
        var server = new SegmentServer(app, queue, segmenter);
        server.Map(options);
        return server;
    }

    /// <summary>Throws a <see cref="UserError"/> for options that cannot work.</summary>
    public static void Validate(ServeOptions options)
    {
        if (options.Host != "localhost" && !IPAddress.TryParse(options.Host, out _))
            throw new UserError($"--host {options.Host}: give an IP address to bind (127.0.0.1, ::1, 0.0.0.0 for every interface) or localhost.");
        if (options.Port is < 0 or > 65535) throw new UserError($"--port {options.Port}: must be between 0 (any free port) and 65535.");
        if (options.MaxBodyBytes < 1) throw new UserError($"--max-body-mb: must be positive.");
        if (options.MaxPixels < 1) throw new UserError($"--max-pixels {options.MaxPixels}: must be at least 1.");
        if (options.QueueCapacity < 1) throw new UserError($"--queue {options.QueueCapacity}: must be at least 1.");
        if (options.MaxBatch is < 1 or > 1024) throw new UserError($"--batch {options.MaxBatch}: must be between 1 and 1024.");
        if (options.BatchWindow < TimeSpan.Zero || options.BatchWindow > TimeSpan.FromSeconds(1))
            throw new UserError($"--batch-wait-ms {options.BatchWindow.TotalMilliseconds}: must be between 0 and 1000.");
        if (options.ApiKey is { Length: 0 }) throw new UserError("--api-key: empty; give a key, or leave the option out for none.");
    }

    /// <summary>Whether binding <paramref name="host"/> reaches beyond this machine.</summary>
    public static bool IsExposed(string host) => host != "localhost" && IPAddress.TryParse(host, out var a) && !IPAddress.IsLoopback(a);

    /// <summary>The application, for tests (e.g. its in-memory client).</summary>
    internal WebApplication App => app;

    /// <summary>
    /// Requests waiting in the queue and images in the batch being gathered or run: what tests wait for instead of
    /// guessing with delays how long a loaded machine takes to get there.
    /// </summary>
    internal (int Waiting, int InBatch) QueueState => (queue.Waiting, queue.InBatch);

    /// <summary>Forward passes and images so far (the micro-batching at work).</summary>
    public (long Batches, long Images) Counts => (queue.Batches, queue.Images);

    /// <summary>Starts listening; returns the base URL (with the port chosen when 0 was asked for).</summary>
    public async Task<string> StartAsync(CancellationToken cancel = default)
    {
        await app.StartAsync(cancel);
        var address = app.Services.GetService<Microsoft.AspNetCore.Hosting.Server.IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
        return (address ?? "http://in-memory").Replace("://[::]", "://localhost").TrimEnd('/') + "/";
    }

    /// <summary>Waits until the host stops (Ctrl-C, SIGTERM, or <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync(CancellationToken cancel = default) => app.WaitForShutdownAsync(cancel);

    /// <summary>Stops taking connections and finishes the requests in flight.</summary>
    public Task StopAsync(CancellationToken cancel = default) => app.StopAsync(cancel);

    /// <summary>Stops (if running), finishes what is queued, and frees the host.</summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed) return;
        disposed = true;
        await app.StopAsync();
        await queue.DisposeAsync();
        await app.DisposeAsync();
    }

    void Map(ServeOptions options)
    {
        var key = options.ApiKey is string k ? new ApiKey(k) : null;
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ukan.serve");
        // Whatever escapes a handler: a JSON 500, never a stack trace (the exception goes to the log).
        app.Use(async (context, next) =>
        {
            try { await next(context); }
            catch (ApiError e) when (!context.Response.HasStarted) { await e.WriteAsync(context); }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested) { }
            catch (Exception e) when (!context.Response.HasStarted)
            {
                log.LogError(e, "request {Method} {Path} failed", context.Request.Method, context.Request.Path);
                context.Response.Clear();
                await new ApiError(500, "internal_error", "the server failed on this request; its log says why.").WriteAsync(context);
            }
        });
        // Statuses the framework sets without a body (no route, wrong method) get the same JSON form.
        app.UseStatusCodePages(async status =>
        {
            var r = status.HttpContext.Response;
            string message = r.StatusCode switch
            {
                404 => $"no such endpoint: {status.HttpContext.Request.Path}; see GET /v1/model, POST /v1/segment, GET /healthz.",
                405 => $"{status.HttpContext.Request.Method} is not allowed on {status.HttpContext.Request.Path}.",
                _ => $"HTTP {r.StatusCode}.",
            };
            await new ApiError(r.StatusCode, ApiError.CodeOf(r.StatusCode), message).WriteAsync(status.HttpContext);
        });

        // HEAD too: load balancers and `curl -I` probe health without a body.
        app.MapMethods("/healthz", ["GET", "HEAD"], () => Results.Json(new { status = "ok" }, ApiError.Json));
        app.MapGet("/", () => Results.Content(HomePage.Html, "text/html; charset=utf-8"));
        app.MapGet("/v1/model", (HttpRequest request) =>
        {
            key?.Check(request);
            return Results.Json(new
            {
                model = segmenter.Info,
                limits = new { max_body_bytes = options.MaxBodyBytes, max_pixels = options.MaxPixels, max_batch = options.MaxBatch, queue_capacity = options.QueueCapacity },
                api_key_required = key is not null,
            }, ApiError.Json);
        });
        app.MapPost("/v1/segment", async (HttpContext context) =>
        {
            var request = context.Request;
            key?.Check(request);
            bool json = WantsJson(request);
            bool images = request.Query["images"] is { Count: > 0 } v && v[0] is "true" or "1";
            var clock = Stopwatch.StartNew();
            var image = await ImageUpload.ReadAsync(request, options, context.RequestAborted);
            var pending = queue.TryEnqueue(image, context.RequestAborted)
                ?? throw new ApiError(503, "overloaded", $"{options.QueueCapacity} requests are already waiting for the model; retry in a moment.");
            var result = await pending.WaitAsync(context.RequestAborted);
            double ms = clock.Elapsed.TotalMilliseconds;
            context.Response.Headers["X-Foreground-Pixels"] = result.ForegroundPixels.ToString();
            context.Response.Headers["X-Foreground-Fraction"] = result.ForegroundFraction.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            if (json) return Results.Json(SegmentResponse.From(result, segmenter.Info.Description, ms, images), ApiError.Json);
            return Results.File(result.MaskPng(), "image/png", "mask.png");
        });
    }

    /// <summary>JSON when <c>?format=json</c>, or <c>Accept</c> names JSON (and <c>?format=png</c> does not override it).</summary>
    static bool WantsJson(HttpRequest request)
    {
        var format = request.Query["format"].FirstOrDefault();
        return format switch
        {
            "json" => true,
            "png" => false,
            null => request.Headers.Accept.Any(a => a?.Contains("application/json", StringComparison.OrdinalIgnoreCase) == true),
            _ => throw new ApiError(400, "bad_format", $"format={format}: use png (the mask image) or json."),
        };
    }
}
