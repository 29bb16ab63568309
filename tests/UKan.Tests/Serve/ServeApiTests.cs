using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using UKan.Data;
using UKan.Serve;

namespace UKan.Tests.Serve;

/// <summary>
/// <c>ukan serve</c>'s API in memory (ASP.NET Core's TestServer in place of Kestrel): the masks of <c>ukan predict</c>,
/// every refusal a JSON error with the right status, the API key, concurrency through the micro-batching queue; and
/// over a real loopback socket, a stop that finishes the request in flight.
/// </summary>
public sealed class ServeApiTests : IAsyncLifetime
{
    static CancellationToken Ct => TestContext.Current.CancellationToken;

    Segmenter segmenter = null!;
    readonly List<SegmentServer> servers = [];

    public ValueTask InitializeAsync()
    {
        _ = TestTorch.Runtime;
        segmenter = ServedModel.Load();
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var s in servers) await s.DisposeAsync();
        segmenter.Dispose();
    }

    async Task<HttpClient> Client(ServeOptions? options = null) => (await Start(options ?? new ServeOptions())).Http;

    /// <summary>A started in-memory server and its client.</summary>
    async Task<(SegmentServer Server, HttpClient Http)> Start(ServeOptions options)
    {
        var server = SegmentServer.Create(segmenter, options, b => b.WebHost.UseTestServer());
        servers.Add(server);
        await server.StartAsync(Ct);
        return (server, server.App.GetTestClient());
    }

    /// <summary>How long a state the test waits for may take on a loaded machine before the test fails.</summary>
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Waits until the server's queue is in <paramref name="expected"/> state (polled; fails after <see cref="Patience"/>),
    /// so that the steps of a test follow what the server has done rather than guesses of how long it takes.
    /// </summary>
    static async Task UntilQueue(SegmentServer server, (int Waiting, int InBatch) expected, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (server.QueueState != expected)
        {
            if (clock.Elapsed > Patience)
                Assert.Fail($"{what}: the queue still {server.QueueState} after {Patience.TotalSeconds:F0} s, expected {expected}");
            await Task.Delay(5, Ct);
        }
    }

    static ByteArrayContent Body(byte[] bytes, string type = "application/octet-stream")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }

    /// <summary>The error body's code, after checking that the body is the one JSON error form.</summary>
    static async Task<string> ErrorCode(HttpResponseMessage response, HttpStatusCode expected)
    {
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain("   at ", text);
        using var json = JsonDocument.Parse(text);
        var error = json.RootElement.GetProperty("error");
        Assert.Equal((int)expected, error.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        return error.GetProperty("code").GetString()!;
    }

    [Fact]
    public async Task A_good_image_gets_the_mask_of_ukan_predict()
    {
        var http = await Client();
        foreach (var file in SegmenterTests.DemoImages())
        {
            using var response = await http.PostAsync("/v1/segment", Body(File.ReadAllBytes(file)), Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
            var mask = ImageFile.Decode(await response.Content.ReadAsByteArrayAsync(Ct), "response");
            Assert.Equal(ImageFile.Read(file).PixelCount, mask.PixelCount);
            Assert.Equal(ServedModel.PredictMask(file), mask.Pixels8);
            long count = ServedModel.PredictMask(file).Count(v => v != 0);
            Assert.InRange(count, 1, mask.PixelCount - 1);
            Assert.Equal(count.ToString(), response.Headers.GetValues("X-Foreground-Pixels").Single());
        }
    }

    [Fact]
    public async Task Json_on_request_and_multipart_uploads()
    {
        var http = await Client();
        var file = SegmenterTests.DemoImages()[0];
        var expected = ServedModel.PredictMask(file).Count(v => v != 0);
        using var form = new MultipartFormDataContent { { Body(File.ReadAllBytes(file), "image/jpeg"), "image", Path.GetFileName(file) } };
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/segment") { Content = form };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var response = await http.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct));
        var root = json.RootElement;
        Assert.Equal(expected, root.GetProperty("foreground_pixels").GetInt64());
        Assert.Equal(ServedModel.Threshold, root.GetProperty("threshold").GetSingle());
        var image = ImageFile.Read(file);
        Assert.Equal((image.Width, image.Height), (root.GetProperty("width").GetInt32(), root.GetProperty("height").GetInt32()));
        Assert.Equal((double)expected / image.PixelCount, root.GetProperty("foreground_fraction").GetDouble(), 12);
        var p = root.GetProperty("probabilities");
        Assert.True(p.GetProperty("min").GetSingle() <= ServedModel.Threshold && ServedModel.Threshold < p.GetProperty("max").GetSingle());
        Assert.True(root.GetProperty("contours").GetArrayLength() > 0);
        Assert.Equal(JsonValueKind.Null, root.GetProperty("mask_png").ValueKind);

        // ?format=json with images=true carries the mask and the overlay as PNGs; the mask is predict's.
        using var withImages = await http.PostAsync("/v1/segment?format=json&images=true", Body(File.ReadAllBytes(file)), Ct);
        using var json2 = JsonDocument.Parse(await withImages.Content.ReadAsStringAsync(Ct));
        var mask = ImageFile.Decode(Convert.FromBase64String(json2.RootElement.GetProperty("mask_png").GetString()!), "mask_png");
        Assert.Equal(ServedModel.PredictMask(file), mask.Pixels8);
        var overlay = ImageFile.Decode(Convert.FromBase64String(json2.RootElement.GetProperty("overlay_png").GetString()!), "overlay_png");
        Assert.Equal((image.Width, image.Height, 3), (overlay.Width, overlay.Height, overlay.Channels));
    }

    [Fact]
    public async Task Model_and_health()
    {
        var http = await Client();
        Assert.Equal("ok", JsonDocument.Parse(await http.GetStringAsync("/healthz", Ct)).RootElement.GetProperty("status").GetString());
        using (var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/healthz"), Ct))
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        var model = JsonDocument.Parse(await http.GetStringAsync("/v1/model", Ct)).RootElement;
        Assert.Equal("tiny", model.GetProperty("model").GetProperty("preset").GetString());
        Assert.Equal(32, model.GetProperty("model").GetProperty("input_height").GetInt32());
        Assert.Equal("official", model.GetProperty("model").GetProperty("preprocessing").GetString());
        Assert.Equal(ServeOptions.DefaultMaxBodyBytes, model.GetProperty("limits").GetProperty("max_body_bytes").GetInt64());
        var page = await http.GetAsync("/", Ct);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync(Ct);
        Assert.Contains("/v1/segment", html);
        Assert.DoesNotContain("<script src=", html);   // self-contained: no script from elsewhere
    }

    [Fact]
    public async Task Not_an_image_is_415()
    {
        var http = await Client();
        Assert.Equal("unsupported_media_type", await ErrorCode(await http.PostAsync("/v1/segment", Body("{\"not\": \"an image\"}"u8.ToArray(), "application/json"), Ct), HttpStatusCode.UnsupportedMediaType));
        Assert.Equal("empty_body", await ErrorCode(await http.PostAsync("/v1/segment", Body([]), Ct), HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task An_oversize_body_is_413()
    {
        var http = await Client(new ServeOptions { MaxBodyBytes = 100_000 });
        var big = new byte[100_001];
        PngSignature.CopyTo(big, 0);
        Assert.Equal("payload_too_large", await ErrorCode(await http.PostAsync("/v1/segment", Body(big), Ct), HttpStatusCode.RequestEntityTooLarge));
        // Without a Content-Length (chunked), the limit holds while reading.
        var chunked = new StreamContent(new MemoryStream(big));
        chunked.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/segment") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        Assert.Equal("payload_too_large", await ErrorCode(await http.SendAsync(request, Ct), HttpStatusCode.RequestEntityTooLarge));
        // The default limit is 20 MB.
        var http20 = await Client();
        Assert.Equal("payload_too_large", await ErrorCode(await http20.PostAsync("/v1/segment", Body(new byte[20 * 1024 * 1024 + 1]), Ct), HttpStatusCode.RequestEntityTooLarge));
    }

    static readonly byte[] PngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>A 33-byte PNG (signature and IHDR) claiming <paramref name="width"/> × <paramref name="height"/> RGB pixels.</summary>
    static byte[] PngHeader(int width, int height)
    {
        var png = new byte[33];
        PngSignature.CopyTo(png, 0);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(8), 13);
        "IHDR"u8.CopyTo(png.AsSpan(12));
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), width);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), height);
        png[24] = 8; png[25] = 2;
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), System.IO.Hashing.Crc32.HashToUInt32(png.AsSpan(12, 17)));
        return png;
    }

    [Fact]
    public async Task A_decompression_bomb_is_422_before_decoding()
    {
        var http = await Client();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var response = await http.PostAsync("/v1/segment", Body(PngHeader(30000, 30000), "image/png"), Ct);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal("too_many_pixels", await ErrorCode(response, HttpStatusCode.UnprocessableEntity));
        // Decoding would have asked for 2.7 GB of pixels.
        Assert.True(allocated < 64L << 20, $"{allocated:N0} bytes allocated while refusing the bomb");
    }

    [Fact]
    public async Task A_truncated_png_is_422()
    {
        var http = await Client();
        var png = ImageFile.EncodePng(ImageFile.Read(SegmenterTests.DemoImages()[0]));
        Assert.Equal("undecodable_image", await ErrorCode(await http.PostAsync("/v1/segment", Body(png[..(png.Length / 2)], "image/png"), Ct), HttpStatusCode.UnprocessableEntity));
        Assert.Equal("undecodable_image", await ErrorCode(await http.PostAsync("/v1/segment", Body(PngHeader(64, 64), "image/png"), Ct), HttpStatusCode.UnprocessableEntity));
    }

    [Fact]
    public async Task Sixteen_concurrent_requests_are_batched_and_all_answered()
    {
        var (server, http) = await Start(new ServeOptions { MaxBatch = 8, BatchWindow = TimeSpan.FromMilliseconds(20) });
        var files = SegmenterTests.DemoImages();
        var bodies = files.Select(File.ReadAllBytes).ToArray();
        var responses = await Task.WhenAll(Enumerable.Range(0, 16).Select(async i =>
        {
            using var r = await http.PostAsync("/v1/segment", Body(bodies[i % 2]));
            return (i, r.StatusCode, Bytes: await r.Content.ReadAsByteArrayAsync());
        }));
        var probabilities = files.Select(f => segmenter.Predict(f)).ToArray();
        foreach (var (i, status, bytes) in responses)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            var mask = ImageFile.Decode(bytes, "response").Pixels8;
            var expected = ServedModel.PredictMask(files[i % 2]);
            // Batched convolutions may round differently in the last bits: only pixels at the threshold may differ.
            for (int k = 0; k < mask.Length; k++)
                if (mask[k] != expected[k])
                    Assert.True(Math.Abs(probabilities[i % 2].Probabilities[k] - ServedModel.Threshold) < 1e-4f, $"request {i}, pixel {k} differs");
        }
        var (batches, images) = server.Counts;
        Assert.Equal(16, images);
        Assert.True(batches < 16, $"16 concurrent requests took {batches} forward passes: no batching");
    }

    [Fact]
    public async Task A_full_queue_is_503()
    {
        var (server, http) = await Start(new ServeOptions { QueueCapacity = 1, MaxBatch = 1, BatchWindow = TimeSpan.Zero });
        var image = File.ReadAllBytes(SegmenterTests.DemoImages()[0]);
        // Hold the model busy: the first request waits inside the forward pass, the second fills the queue's one place.
        // Each step waits until the server shows it has happened, so a slow machine only makes the test slower.
        using var held = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var holder = new Thread(() => { lock (segmenter.Gate) { held.Set(); release.Wait(); } });
        holder.Start();
        held.Wait(Ct);
        var admitted = new List<Task<HttpResponseMessage>>();
        try
        {
            admitted.Add(http.PostAsync("/v1/segment", Body(image), Ct));
            await UntilQueue(server, (0, 1), "the first request taken into the forward pass");
            admitted.Add(http.PostAsync("/v1/segment", Body(image), Ct));
            await UntilQueue(server, (1, 1), "the second request waiting in the queue");
            // The queue is full and the model busy: more requests are answered at once, 503 with a Retry-After.
            for (int i = 0; i < 2; i++)
            {
                using var refused = await http.PostAsync("/v1/segment", Body(image), Ct).WaitAsync(Patience, Ct);
                Assert.Equal("overloaded", await ErrorCode(refused, HttpStatusCode.ServiceUnavailable));
                Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
            }
            Assert.All(admitted, r => Assert.False(r.IsCompleted, "a request let in was answered while the model was held"));
            Assert.Equal((1, 1), server.QueueState);
        }
        finally { release.Set(); holder.Join(); }
        // Those that were let in are answered once the model is free.
        foreach (var r in admitted)
        {
            using var response = await r.WaitAsync(Patience, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/png", response.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal((2L, 2L), server.Counts);
    }

    [Fact]
    public async Task The_api_key_is_required_when_set()
    {
        var http = await Client(new ServeOptions { ApiKey = "s3cret-key" });
        var image = File.ReadAllBytes(SegmenterTests.DemoImages()[0]);
        Assert.Equal("unauthorized", await ErrorCode(await http.PostAsync("/v1/segment", Body(image), Ct), HttpStatusCode.Unauthorized));
        Assert.Equal("unauthorized", await ErrorCode(await http.GetAsync("/v1/model", Ct), HttpStatusCode.Unauthorized));
        var wrong = new HttpRequestMessage(HttpMethod.Post, "/v1/segment") { Content = Body(image) };
        wrong.Headers.Add("X-API-Key", "s3cret-kez");
        Assert.Equal("unauthorized", await ErrorCode(await http.SendAsync(wrong, Ct), HttpStatusCode.Unauthorized));
        var right = new HttpRequestMessage(HttpMethod.Post, "/v1/segment") { Content = Body(image) };
        right.Headers.Add("X-API-Key", "s3cret-key");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(right, Ct)).StatusCode);
        var bearer = new HttpRequestMessage(HttpMethod.Get, "/v1/model");
        bearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "s3cret-key");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(bearer, Ct)).StatusCode);
        // Health checks and the page need no key (the page asks for it).
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/", Ct)).StatusCode);
    }

    [Fact]
    public async Task Unknown_routes_methods_and_formats_are_json_errors()
    {
        var http = await Client();
        Assert.Equal("not_found", await ErrorCode(await http.GetAsync("/v2/segment", Ct), HttpStatusCode.NotFound));
        Assert.Equal("method_not_allowed", await ErrorCode(await http.GetAsync("/v1/segment", Ct), HttpStatusCode.MethodNotAllowed));
        Assert.Equal("bad_format", await ErrorCode(await http.PostAsync("/v1/segment?format=xml", Body([1, 2, 3]), Ct), HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Broken_multipart_forms_are_400()
    {
        var http = await Client();
        // Cut short: the body ends inside the file part, before the closing boundary (was a 500 with a stack trace in the log).
        var cut = Body("--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n\r\nabc"u8.ToArray(), "multipart/form-data");
        cut.Headers.ContentType!.Parameters.Add(new NameValueHeaderValue("boundary", "xyz"));
        using var response = await http.PostAsync("/v1/segment", cut, Ct);
        Assert.Equal("bad_form", await ErrorCode(response, HttpStatusCode.BadRequest));
        Assert.Contains("closing boundary", await response.Content.ReadAsStringAsync(Ct));
        Assert.Equal("bad_form", await ErrorCode(await http.PostAsync("/v1/segment", Body([1, 2, 3], "multipart/form-data"), Ct), HttpStatusCode.BadRequest));
        // The server goes on answering.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz", Ct)).StatusCode);
    }

    [Fact]
    public void Options_that_cannot_work_are_refused()
    {
        Assert.Contains("--host", Assert.Throws<UserError>(() => SegmentServer.Validate(new ServeOptions { Host = "example.org" })).Message);
        Assert.Contains("--port", Assert.Throws<UserError>(() => SegmentServer.Validate(new ServeOptions { Port = 70000 })).Message);
        Assert.Contains("--batch", Assert.Throws<UserError>(() => SegmentServer.Validate(new ServeOptions { MaxBatch = 0 })).Message);
        Assert.True(SegmentServer.IsExposed("0.0.0.0"));
        Assert.False(SegmentServer.IsExposed("127.0.0.1"));
        Assert.False(SegmentServer.IsExposed("::1"));
    }

    [Fact]
    public async Task Stopping_finishes_the_request_in_flight()
    {
        // Over a real socket: the request waits in the batch window while the server is told to stop.
        var server = SegmentServer.Create(segmenter, new ServeOptions { Port = 0, BatchWindow = TimeSpan.FromMilliseconds(800) });
        servers.Add(server);
        var url = await server.StartAsync(Ct);
        Assert.StartsWith("http://127.0.0.1:", url);
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        var file = SegmenterTests.DemoImages()[0];
        var pending = http.PostAsync("/v1/segment", Body(File.ReadAllBytes(file)), Ct);
        await UntilQueue(server, (0, 1), "the request in the batch window");
        var stopping = server.StopAsync(Ct);
        using var response = await pending;
        await stopping;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(ServedModel.PredictMask(file), ImageFile.Decode(await response.Content.ReadAsByteArrayAsync(Ct), "response").Pixels8);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => http.GetAsync("/healthz", Ct));
    }
}
