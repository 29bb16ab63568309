using System.CommandLine;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using TorchSharp;
using UKan.Data;
using UKan.Evaluation;
using UKan.Models;
using UKan.Serve;

namespace UKan.Cli.Commands;

/// <summary>
/// <c>ukan bench serve</c>: the HTTP service measured from a client: the server runs in this process on a free
/// loopback port, N requests go to POST /v1/segment from C concurrent clients; latency p50/p99, throughput, errors.
/// </summary>
static class BenchServeCommand
{
    public static Command Create()
    {
        var command = new Command("serve", "Benchmark 'ukan serve' on loopback: N requests from C concurrent clients; p50/p99 latency, throughput, errors, images per forward pass.");
        var weights = new Option<string?>("--weights") { Description = "Weights to serve (run folder or file); default: an untrained model of --preset at --size (the same compute)." };
        var image = new Option<string?>("--image") { Description = "The image every request sends (default: the first demo image, data/demo)." };
        var requests = new Option<int>("--requests") { Description = "Timed requests.", DefaultValueFactory = _ => 200 };
        var concurrency = new Option<int>("--concurrency") { Description = "Clients sending at the same time.", DefaultValueFactory = _ => 8 };
        var warmup = new Option<int>("--warmup") { Description = "Untimed requests first.", DefaultValueFactory = _ => 16 };
        var json = new Option<string?>("--json") { Description = "Also write the results to this JSON file." };
        var serving = new ServingOptions();
        var inference = new InferenceOptions();
        inference.AddTo(command);
        serving.AddTo(command);
        foreach (var o in new Option[] { weights, image, requests, concurrency, warmup, json, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            int n = parsed.GetValue(requests), c = parsed.GetValue(concurrency), w = parsed.GetValue(warmup);
            if (n is < 1 or > 1_000_000) throw new UserError($"--requests {n}: must be between 1 and 1000000.");
            if (c is < 1 or > 1024) throw new UserError($"--concurrency {c}: must be between 1 and 1024.");
            if (w is < 0 or > 100_000) throw new UserError($"--warmup {w}: must be between 0 and 100000.");
            if (parsed.GetValue(json) is string j) UKan.IO.OutputGuard.CheckFile(j, "--json", parsed.GetValue(CommandLine.Overwrite), []);
            var options = serving.Read(parsed, "127.0.0.1", 0, null);
            var imagePath = parsed.GetValue(image) ?? ImageFile.ListImages(Path.Combine(DemoCommand.FindDemoData(), "images"))[0];
            var body = File.Exists(imagePath) ? File.ReadAllBytes(imagePath) : throw new UserError($"--image {imagePath}: no such file.");
            var decoded = ImageFile.Decode(body, imagePath, maxPixels: options.MaxPixels);
            var rt = CommandLine.StartTorch(parsed);
            var model = parsed.GetValue(weights) is string given
                ? inference.Resolve(parsed, InferenceOptions.WeightsIn(given), null, rt.Device)
                : Untrained(parsed, inference, rt.Device);
            using var segmenter = new Segmenter(model, rt.Device, parsed.GetValue(serving.Threshold), options.MaxPixels);
            var result = Run(segmenter, options, body, n, c, w).GetAwaiter().GetResult();
            var table = new TextTable("model", "device", "image", "requests × clients", "p50 ms", "p99 ms", "mean ms", "req/s", "errors", "images/forward pass");
            table.Add(segmenter.Info.Description, segmenter.Info.Device, $"{decoded.Width}x{decoded.Height} → {model.Height}x{model.Width}", $"{n} × {c}",
                result.P50Ms.ToString("F1"), result.P99Ms.ToString("F1"), result.MeanMs.ToString("F1"), result.RequestsPerSecond.ToString("F1"),
                result.Errors, result.ImagesPerBatch.ToString("F2"));
            Console.Write(table);
            if (parsed.GetValue(json) is string path)
            {
                AtomicFile.WriteAllText(path, JsonSerializer.Serialize(new { model = segmenter.Info.Description, device = segmenter.Info.Device, image = imagePath, requests = n, concurrency = c, result },
                    new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
                Console.WriteLine($"wrote {path}");
            }
            if (result.Errors > 0) throw new UserError($"{result.Errors} of {n} requests failed (first: {result.FirstError}).");
            return 0;
        });
        return command;
    }

    /// <summary>The timings of one benchmark.</summary>
    public sealed record Outcome(double P50Ms, double P99Ms, double MeanMs, double RequestsPerSecond, int Errors, string? FirstError, double ImagesPerBatch, double WallSeconds);

    /// <summary>A freshly initialised model of the asked preset and size: the forward pass costs what a trained one costs.</summary>
    static InferenceModel Untrained(ParseResult parsed, InferenceOptions inference, TorchSharp.torch.Device device)
    {
        var spec = inference.Model.Resolve(parsed);
        var (h, w) = parsed.GetValue(inference.Size) is string s ? SharedOptions.ParseSize(s) : (InferenceModel.DefaultSize, InferenceModel.DefaultSize);
        var preset = parsed.GetValue(inference.Preprocessing) is string p ? Preprocessing.Parse(p) : PreprocessingPreset.Official;
        var net = ModelFactory.Create(spec);
        net.to(device);
        return new InferenceModel(net, spec, h, w, preset, null);
    }

    /// <summary>Starts the server on a free loopback port and sends <paramref name="requests"/> requests from <paramref name="clients"/> clients.</summary>
    public static async Task<Outcome> Run(Segmenter segmenter, ServeOptions options, byte[] image, int requests, int clients, int warmup)
    {
        await using var server = SegmentServer.Create(segmenter, options with { Host = "127.0.0.1", Port = 0, QueueCapacity = Math.Max(options.QueueCapacity, clients) });
        var url = await server.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("image/png"));
        async Task<(double Ms, string? Error)> Send()
        {
            using var content = new ByteArrayContent(image);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            var clock = Stopwatch.StartNew();
            try
            {
                using var response = await http.PostAsync("v1/segment", content);
                var bytes = await response.Content.ReadAsByteArrayAsync();
                var ms = clock.Elapsed.TotalMilliseconds;
                return response.IsSuccessStatusCode ? (ms, null) : (ms, $"HTTP {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(bytes)}");
            }
            catch (HttpRequestException e) { return (clock.Elapsed.TotalMilliseconds, e.Message); }
        }
        async Task<List<(double Ms, string? Error)>> Clients(int total)
        {
            int next = 0;
            var all = new List<(double, string?)>[clients];
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async k =>
            {
                all[k] = [];
                while (Interlocked.Increment(ref next) <= total) all[k].Add(await Send());
            }));
            return all.SelectMany(a => a).ToList();
        }
        await Clients(warmup);
        var (batches0, images0) = server.Counts;
        var wall = Stopwatch.StartNew();
        var timed = await Clients(requests);
        double seconds = wall.Elapsed.TotalSeconds;
        var (batches1, images1) = server.Counts;
        var ms = timed.Select(t => t.Ms).ToArray();
        var errors = timed.Where(t => t.Error is not null).ToList();
        return new Outcome(Percentile.Linear(ms.ToArray(), 0.5), Percentile.Linear(ms.ToArray(), 0.99), ms.Average(), requests / seconds,
            errors.Count, errors.FirstOrDefault().Error, (double)(images1 - images0) / Math.Max(1, batches1 - batches0), seconds);
    }
}
