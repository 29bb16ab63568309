using System.CommandLine;
using UKan.Serve;

namespace UKan.Cli;

/// <summary>The options of the HTTP service that <c>ukan serve</c> and <c>ukan bench serve</c> share.</summary>
sealed class ServingOptions
{
    public readonly Option<float> Threshold = SharedOptions.Threshold();
    public readonly Option<int> Batch = new("--batch") { Description = "Images per forward pass at most (requests waiting together are batched).", DefaultValueFactory = _ => 8 };
    public readonly Option<double> BatchWait = new("--batch-wait-ms") { Description = "How long a request waits for others to share its forward pass.", DefaultValueFactory = _ => 4.0 };
    public readonly Option<int> Queue = new("--queue") { Description = "Requests waiting for the model at most; more are answered 503.", DefaultValueFactory = _ => 64 };
    public readonly Option<double> MaxBodyMb = new("--max-body-mb") { Description = "Largest request body in MB; larger ones are answered 413.", DefaultValueFactory = _ => ServeOptions.DefaultMaxBodyBytes / 1048576.0 };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Threshold, Batch, BatchWait, Queue, MaxBodyMb }) command.Options.Add(o);
    }

    /// <summary>The service's options (checked), with the global --max-pixels as the pixel limit.</summary>
    public ServeOptions Read(ParseResult parsed, string host, int port, string? apiKey)
    {
        Segmenter.CheckThreshold(parsed.GetValue(Threshold));
        double mb = parsed.GetValue(MaxBodyMb);
        if (!(mb > 0 && mb <= 4096)) throw new UserError($"--max-body-mb {mb}: must be above 0 and at most 4096.");
        double wait = parsed.GetValue(BatchWait);
        if (!(wait >= 0 && wait <= 1000)) throw new UserError($"--batch-wait-ms {wait}: must be between 0 and 1000.");
        var options = new ServeOptions
        {
            Host = host,
            Port = port,
            ApiKey = apiKey,
            MaxBodyBytes = (long)(mb * 1048576),
            MaxPixels = parsed.GetValue(CommandLine.MaxPixels),
            QueueCapacity = parsed.GetValue(Queue),
            MaxBatch = parsed.GetValue(Batch),
            BatchWindow = TimeSpan.FromMilliseconds(wait),
        };
        SegmentServer.Validate(options);
        return options;
    }
}
