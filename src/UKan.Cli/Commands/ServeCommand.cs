using System.CommandLine;
using UKan.Serve;

namespace UKan.Cli.Commands;

/// <summary><c>ukan serve --weights RUN</c>: an HTTP API and a page for segmenting images with a trained model.</summary>
static class ServeCommand
{
    /// <summary>The environment variable that may hold the API key (kept out of the process list, unlike --api-key).</summary>
    public const string ApiKeyVariable = "UKAN_API_KEY";

    public static Command Create()
    {
        var command = new Command("serve", "Serve a model over HTTP: POST /v1/segment (image → mask PNG or JSON), GET /v1/model, GET /healthz, and a page at / to try it in a browser.");
        var weights = new Option<string>("--weights") { Description = "Weights: a run folder (its model.safetensors), a weights file or checkpoint, or an official .pth (with --preset).", Required = true };
        var host = new Option<string>("--host") { Description = "Address to bind: 127.0.0.1 (this machine only), ::1, or 0.0.0.0 (every interface: set an API key).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port; 0 picks a free one (the URL is printed).", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = $"Require this key on /v1/* (X-API-Key header or Authorization: Bearer). Also: {ApiKeyVariable}." };
        var serving = new ServingOptions();
        var inference = new InferenceOptions();
        inference.AddTo(command);
        serving.AddTo(command);
        foreach (var o in new Option[] { weights, host, port, apiKey }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var key = parsed.GetValue(apiKey) ?? (Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } k ? k : null);
            var options = serving.Read(parsed, parsed.GetValue(host)!, parsed.GetValue(port), key);
            var weightsPath = InferenceOptions.WeightsIn(parsed.GetValue(weights)!);
            var rt = CommandLine.StartTorch(parsed);
            var model = inference.Resolve(parsed, weightsPath, null, rt.Device);
            using var segmenter = new Segmenter(model, rt.Device, parsed.GetValue(serving.Threshold), options.MaxPixels, weightsPath);
            if (SegmentServer.IsExposed(options.Host))
                Console.Error.WriteLine($"ukan: warning: --host {options.Host} makes the service reachable from other machines" +
                                        (key is null ? $" and no API key is set (--api-key or {ApiKeyVariable})." : "; traffic is plain HTTP, put a TLS proxy in front."));
            return Run(segmenter, options).GetAwaiter().GetResult();
        });
        return command;
    }

    static async Task<int> Run(Segmenter segmenter, ServeOptions options)
    {
        await using var server = SegmentServer.Create(segmenter, options);
        string url;
        try { url = await server.StartAsync(); }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { throw CannotListen(options, e); }
        Console.WriteLine($"serving {segmenter.Info.Description} (input {segmenter.Info.InputHeight}x{segmenter.Info.InputWidth}, {segmenter.Info.Device}) at {url}");
        Console.WriteLine($"  page: {url}   API: POST {url}v1/segment   (Ctrl-C or SIGTERM stops after the requests in flight)");
        await server.WaitForShutdownAsync();
        Console.WriteLine("ukan: stopped.");
        return 0;
    }

    /// <summary>
    /// Why the socket could not be bound, as the option to change: an address that is not this machine's (Kestrel
    /// lets the SocketException through) is the --host's fault, a port in use or reserved the --port's.
    /// </summary>
    static UserError CannotListen(ServeOptions options, Exception e)
    {
        var socket = e as System.Net.Sockets.SocketException ?? e.InnerException?.InnerException as System.Net.Sockets.SocketException;
        var reason = CommandLine.OneLine(e.Message);
        return socket?.SocketErrorCode == System.Net.Sockets.SocketError.AddressNotAvailable
            ? new UserError($"--host {options.Host}: cannot listen there ({reason}): it is not an address of this machine; " +
                            "give one of its addresses, 127.0.0.1 (this machine only) or 0.0.0.0 (every interface).")
            : new UserError($"--port {options.Port}: cannot listen on {options.Host}:{options.Port} ({reason}); pick another port, or 0 for any free one.");
    }
}
