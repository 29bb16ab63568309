using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace UKan.Tests.Serve;

/// <summary>
/// The system's chromium, headless, driven over the Chrome DevTools Protocol (a JSON message per command on the page's
/// WebSocket): what the page test needs (navigate, evaluate JavaScript, wait for a condition, choose a file in an
/// input, take a screenshot) without a browser-automation package. Playwright did this before, at 786 MB of NuGet
/// cache (drivers for every platform) for one test.
/// </summary>
sealed class HeadlessChromium : IAsyncDisposable
{
    readonly Process process;
    readonly string profile;
    readonly ClientWebSocket socket = new();
    readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> pending = new();
    readonly CancellationTokenSource closing = new();
    Task? receiving;
    int nextId;

    HeadlessChromium(Process process, string profile) => (this.process, this.profile) = (process, profile);

    /// <summary>Starts <paramref name="executable"/> with a fresh profile and a viewport of <paramref name="width"/> × <paramref name="height"/>.</summary>
    public static async Task<HeadlessChromium> LaunchAsync(string executable, int width, int height, CancellationToken ct)
    {
        var profile = Directory.CreateTempSubdirectory("ukan-chromium-").FullName;
        var start = new ProcessStartInfo(executable) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        // Headless on a machine without a display or network: no sandbox (root in CI), no GPU, no background requests
        // (which this machine's closed network refuses by the dozen), port 0 = chosen by chromium, written to the profile.
        foreach (var arg in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync", "--remote-debugging-port=0",
                     $"--user-data-dir={profile}", $"--window-size={width},{height}", "about:blank",
                 })
            start.ArgumentList.Add(arg);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var browser = new HeadlessChromium(process, profile);
        try
        {
            await browser.ConnectAsync(ct);
            await browser.SendAsync("Emulation.setDeviceMetricsOverride", new { width, height, deviceScaleFactor = 1, mobile = false }, ct);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    async Task ConnectAsync(CancellationToken ct)
    {
        var portFile = Path.Combine(profile, "DevToolsActivePort");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!File.Exists(portFile) || File.ReadAllLines(portFile).Length < 2)
        {
            if (process.HasExited) throw new InvalidOperationException($"chromium exited with {process.ExitCode} before it listened");
            if (DateTime.UtcNow > deadline) throw new TimeoutException("chromium did not open its DevTools port within 30 s");
            await Task.Delay(50, ct);
        }
        var port = int.Parse(File.ReadAllLines(portFile)[0]);
        using var http = new HttpClient();
        using var targets = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list", ct));
        var page = targets.RootElement.EnumerateArray().First(t => t.GetProperty("type").GetString() == "page");
        await socket.ConnectAsync(new Uri(page.GetProperty("webSocketDebuggerUrl").GetString()!), ct);
        receiving = Task.Run(ReceiveAsync);
    }

    /// <summary>Reads messages until the socket closes; answers go to the command that awaits them, events are ignored.</summary>
    async Task ReceiveAsync()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (socket.State == WebSocketState.Open)
            {
                var part = await socket.ReceiveAsync(buffer, closing.Token);
                if (part.MessageType == WebSocketMessageType.Close) break;
                message.Write(buffer, 0, part.Count);
                if (!part.EndOfMessage) continue;
                using var doc = JsonDocument.Parse(message.ToArray());
                message.SetLength(0);
                if (doc.RootElement.TryGetProperty("id", out var id) && pending.TryRemove(id.GetInt32(), out var waiter))
                {
                    if (doc.RootElement.TryGetProperty("error", out var error))
                        waiter.TrySetException(new InvalidOperationException($"DevTools: {error.GetRawText()}"));
                    else
                        waiter.TrySetResult(doc.RootElement.GetProperty("result").Clone());
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException) { }
        foreach (var waiter in pending.Values) waiter.TrySetException(new InvalidOperationException("the DevTools connection closed"));
    }

    /// <summary>Sends one DevTools command and returns its result.</summary>
    public async Task<JsonElement> SendAsync(string method, object? parameters, CancellationToken ct)
    {
        int id = Interlocked.Increment(ref nextId);
        var waiter = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending[id] = waiter;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters ?? new { } });
        await socket.SendAsync(bytes, WebSocketMessageType.Text, true, ct);
        return await waiter.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
    }

    /// <summary>Loads <paramref name="url"/> and waits until the document has loaded.</summary>
    public async Task NavigateAsync(string url, CancellationToken ct)
    {
        await SendAsync("Page.navigate", new { url }, ct);
        await WaitForAsync("document.readyState === 'complete' && location.href !== 'about:blank'", TimeSpan.FromSeconds(30), ct);
    }

    /// <summary>The value of a JavaScript expression in the page (awaited when it is a promise); a script error throws.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression, CancellationToken ct)
    {
        var result = await SendAsync("Runtime.evaluate", new { expression, returnByValue = true, awaitPromise = true }, ct);
        if (result.TryGetProperty("exceptionDetails", out var details))
            throw new InvalidOperationException($"{expression}: {details.GetRawText()}");
        return result.GetProperty("result").TryGetProperty("value", out var value) ? value.Clone() : default;
    }

    /// <summary>Polls <paramref name="condition"/> (a JavaScript expression) until it is true; a timeout fails with it.</summary>
    public async Task WaitForAsync(string condition, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await EvaluateAsync($"Boolean({condition})", ct);
            if (value.ValueKind == JsonValueKind.True) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"not true after {timeout.TotalSeconds} s: {condition}");
            await Task.Delay(100, ct);
        }
    }

    /// <summary>Chooses <paramref name="file"/> in the file input <paramref name="selector"/>, as a user would (input and change events fire).</summary>
    public async Task SetFileInputAsync(string selector, string file, CancellationToken ct)
    {
        var document = await SendAsync("DOM.getDocument", new { depth = 0 }, ct);
        var root = document.GetProperty("root").GetProperty("nodeId").GetInt32();
        var node = (await SendAsync("DOM.querySelector", new { nodeId = root, selector }, ct)).GetProperty("nodeId").GetInt32();
        if (node == 0) throw new InvalidOperationException($"no element {selector} in the page");
        await SendAsync("DOM.setFileInputFiles", new { files = new[] { Path.GetFullPath(file) }, nodeId = node }, ct);
    }

    /// <summary>A PNG of the whole page (beyond the viewport) to <paramref name="path"/>.</summary>
    public async Task ScreenshotAsync(string path, CancellationToken ct)
    {
        var metrics = await SendAsync("Page.getLayoutMetrics", null, ct);
        var size = metrics.GetProperty("cssContentSize");
        var clip = new { x = 0, y = 0, width = size.GetProperty("width").GetDouble(), height = size.GetProperty("height").GetDouble(), scale = 1 };
        var shot = await SendAsync("Page.captureScreenshot", new { format = "png", captureBeyondViewport = true, clip }, ct);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String(shot.GetProperty("data").GetString()!), ct);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (socket.State == WebSocketState.Open)
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2));
        }
        catch (Exception e) when (e is WebSocketException or TimeoutException or OperationCanceledException) { }
        closing.Cancel();
        if (receiving is not null) await receiving.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });
        socket.Dispose();
        try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
        process.Dispose();
        closing.Dispose();
        try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
