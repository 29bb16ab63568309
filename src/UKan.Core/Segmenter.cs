using System.Reflection;
using TorchSharp;
using UKan.Data;
using UKan.Evaluation;
using UKan.Models;
using UKan.Native;

namespace UKan;

/// <summary>
/// Segments images with a trained model: the library's entry point for putting a U-KAN model inside other .NET
/// software.
/// <code>
/// using var segmenter = Segmenter.Load("runs/kvasir");          // a run folder, a .safetensors file, or an official .pth with Preset
/// var result = segmenter.Predict("polyp.jpg");
/// File.WriteAllBytes("polyp_mask.png", result.MaskPng());
/// Console.WriteLine($"{result.ForegroundFraction:P1} foreground");
/// </code>
/// Images of any size are resized to the model's input size and normalised as in training; the probabilities are
/// resized back, so masks come at each image's own size. The same resolution of weights, size and preprocessing as
/// <c>ukan predict</c>, and the same masks.
/// </summary>
/// <remarks>
/// Thread safety: every method may be called from any thread; predictions are serialised by an internal lock (one
/// forward pass at a time: torch already uses all cores, or the whole GPU, for one). To use several images per
/// forward pass, pass them together to <see cref="Predict(IReadOnlyList{Raster})"/>. Torch is started on first use
/// (<see cref="TorchRuntime.Initialize"/>); nothing needs to be set up beforehand.
/// </remarks>
public sealed class Segmenter : IDisposable
{
    readonly object gate = new();
    readonly InferenceModel model;
    readonly Inference inference;
    readonly long? pixelLimit;
    bool disposed;

    /// <summary>
    /// Loads a model. <paramref name="path"/> is a run folder of <c>ukan train</c> (its model.safetensors, with the
    /// run's input size and preprocessing), a weights file (.safetensors, or a training checkpoint), or an official
    /// PyTorch .pth checkpoint (then <see cref="SegmenterOptions.Preset"/> is required).
    /// </summary>
    /// <exception cref="UserError">The path, the file or an option is wrong; the message says how to fix it.</exception>
    public static Segmenter Load(string path, SegmenterOptions? options = null)
    {
        options ??= new SegmenterOptions();
        ArgumentNullException.ThrowIfNull(path);
        CheckThreshold(options.Threshold);
        if (options.PixelLimit is < 1) throw new UserError($"pixel limit {options.PixelLimit}: must be at least 1.");
        if (!File.Exists(path) && !Directory.Exists(path)) throw new UserError($"{path}: no such run folder or weights file.");
        var device = StartTorch(options.Device);
        var weights = InferenceModel.WeightsIn(path);
        var model = InferenceModel.Load(weights, Request(options, weights), null, null, null, device, options.OnWarning);
        return new Segmenter(model, device, options.Threshold, options.PixelLimit, weights);
    }

    /// <summary>
    /// Advanced: wraps a model already resolved by <see cref="InferenceModel.Load"/> (as the command-line tool does
    /// with its options). Torch must already be started. The segmenter owns the model from then on.
    /// </summary>
    public Segmenter(InferenceModel model, torch.Device device, float threshold = 0.5f, long? pixelLimit = null, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckThreshold(threshold);
        this.model = model;
        this.pixelLimit = pixelLimit;
        inference = new Inference(model.Net, model.Height, model.Width, model.Preset, model.Spec.InChannels, device);
        var (shift, scale) = Preprocessing.Normalisation(model.Spec.InChannels, model.Preset);
        Info = new SegmenterInfo(
            ModelSpec.NameOf(model.Spec.Architecture), model.Spec.Describe(), model.Spec.Preset, model.Spec.EmbedDims,
            model.Spec.InChannels, model.Spec.NumClasses, model.Height, model.Width,
            model.Preset.ToString().ToLowerInvariant(), Preprocessing.Order(model.Preset).ToString().ToLowerInvariant(), shift, scale,
            threshold, ModelFactory.CountParameters(model.Net), source is null ? "" : Path.GetFullPath(source), device.ToString(),
            typeof(Segmenter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "");
    }

    /// <summary>The lock predictions take (tests hold it to fill a service's queue).</summary>
    internal object Gate => gate;

    /// <summary>What is loaded and how images are prepared.</summary>
    public SegmenterInfo Info { get; }

    /// <summary>Reads and segments an image file (PNG, JPEG, BMP or TIFF; the format is taken from its content).</summary>
    /// <exception cref="UserError">The file is missing, unreadable, not an image, damaged, or over the pixel limit.</exception>
    public SegmentationResult Predict(string imagePath) => Predict(ImageFile.Read(imagePath, maxPixels: pixelLimit));

    /// <summary>Reads an encoded image (PNG, JPEG, BMP or TIFF) from <paramref name="image"/> to its end and segments it.</summary>
    /// <exception cref="UserError">The bytes are not an image, damaged, or over the pixel limit.</exception>
    public SegmentationResult Predict(Stream image)
    {
        ArgumentNullException.ThrowIfNull(image);
        using var buffer = new MemoryStream();
        image.CopyTo(buffer);
        return Predict(ImageFile.Decode(buffer.ToArray(), "the image stream", maxPixels: pixelLimit));
    }

    /// <summary>Segments a decoded image (grey, RGB or RGBA, 8 or 16 bit, colour in RGB order as the decoders give it).</summary>
    public SegmentationResult Predict(Raster image) => Predict([image])[0];

    /// <summary>
    /// Segments several images in one forward pass (faster per image, on a GPU above all); results in the same order.
    /// The images may differ in size.
    /// </summary>
    public IReadOnlyList<SegmentationResult> Predict(IReadOnlyList<Raster> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) return [];
        var order = Preprocessing.Order(model.Preset);
        var prepared = images.Select(i => ImageOps.ToColor8(i ?? throw new ArgumentNullException(nameof(images)), order)).ToList();
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            var probs = inference.Probabilities(prepared);
            var results = new SegmentationResult[images.Count];
            for (int i = 0; i < images.Count; i++)
            {
                using var p = probs[i];
                results[i] = new SegmentationResult(images[i], p[0].contiguous().data<float>().ToArray(), Info.Threshold);
            }
            return results;
        }
    }

    /// <summary>Frees the model's native memory; the segmenter cannot be used afterwards.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            model.Net.Dispose();
        }
    }

    /// <summary>Throws a <see cref="UserError"/> unless 0 &lt; <paramref name="threshold"/> &lt; 1.</summary>
    public static void CheckThreshold(float threshold)
    {
        if (!(threshold > 0 && threshold < 1))
            throw new UserError($"--threshold {threshold}: must be between 0 and 1 (exclusive); 0.5 is the usual.");
    }

    /// <summary>Starts torch (once per process) and returns the device <paramref name="device"/> names.</summary>
    static torch.Device StartTorch(string device)
    {
        var text = (device ?? "auto").Trim().ToLowerInvariant();
        int? index = null;
        if (text.StartsWith("cuda:"))
        {
            index = int.TryParse(text[5..], out var n) && n >= 0 ? n
                : throw new UserError($"device {device}: expected cuda:N with N a GPU number from 0, e.g. cuda:1.");
            text = "cuda";
        }
        var request = text switch
        {
            "auto" => DeviceRequest.Auto,
            "cpu" => DeviceRequest.Cpu,
            "cuda" => DeviceRequest.Cuda,
            _ => throw new UserError($"device {device}: use auto, cpu, cuda or cuda:N."),
        };
        var rt = TorchRuntime.Initialize(new RuntimeOptions(request));
        if (request == DeviceRequest.Cpu || rt.Device.type != DeviceType.CUDA) return torch.CPU;
        if (index is int i && i >= torch.cuda.device_count())
            throw new UserError($"device {device}: there are {torch.cuda.device_count()} GPU(s), numbered from 0.");
        return index is int k ? torch.device(DeviceType.CUDA, k) : rt.Device;
    }

    /// <summary>The options as a model request: the preset and the architecture, when given.</summary>
    static ModelRequest Request(SegmenterOptions options, string weights)
    {
        var given = ModelFields.None;
        var asked = new ModelSpec();
        if (options.Preset is string preset)
        {
            asked = asked with { EmbedDims = ModelPresets.Resolve(preset), Preset = preset };
            given |= ModelFields.EmbedDims;
        }
        if (options.ModelName is string name)
        {
            asked = asked with { Architecture = ModelSpec.ParseArchitecture(name) };
            given |= ModelFields.Architecture;
        }
        if (options.Preset is null && (weights.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) || weights.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)))
            throw new UserError($"{weights}: an official PyTorch checkpoint does not record its configuration; set SegmenterOptions.Preset (paper, large or tiny) as it was trained.");
        return new ModelRequest(asked, given);
    }
}
