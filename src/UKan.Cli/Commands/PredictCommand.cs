using System.CommandLine;
using TorchSharp;
using UKan.Data;
using UKan.Evaluation;
using UKan.Models;
using UKan.Plots;

namespace UKan.Cli.Commands;

/// <summary><c>ukan predict</c>: segment images (files or folders) with a trained or official model.</summary>
static class PredictCommand
{
    public static Command Create()
    {
        var command = new Command("predict", "Segment images: lossless mask PNGs at each input's own size, optional probability maps and overlays.");
        var weights = new Option<string>("--weights") { Description = "Weights: a run's model.safetensors, a checkpoint, or an official .pth (with --preset).", Required = true };
        var inputs = new Argument<string[]>("inputs") { Description = "Image files or folders of images.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "Output folder.", Required = true };
        var probabilities = new Option<bool>("--probabilities") { Description = "Also write probability maps (16-bit PNG, 0..65535)." };
        var overlays = new Option<bool>("--overlays") { Description = "Also write overlays (prediction in red)." };
        var batch = new Option<int>("--batch") { Description = "Images per forward pass.", DefaultValueFactory = _ => 8 };
        var inference = new InferenceOptions();
        inference.AddTo(command);
        command.Arguments.Add(inputs);
        foreach (var o in new Option[] { weights, output, probabilities, overlays, batch }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var rt = CommandLine.StartTorch(parsed);
            var (net, spec, h, w, preset, _) = inference.Resolve(parsed, parsed.GetValue(weights)!, null, rt.Device);
            var files = ExpandInputs(parsed.GetValue(inputs)!);
            var outDir = parsed.GetValue(output)!;
            try { Directory.CreateDirectory(outDir); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UserError($"--out {outDir}: cannot create it ({e.Message.Split('.')[0]})."); }
            var segmenter = new Inference(net, h, w, preset, spec.InChannels, rt.Device);
            int b = Math.Max(1, parsed.GetValue(batch)), done = 0;
            foreach (var chunk in files.Chunk(b))
            {
                var images = chunk.Select(f => ImageOps.ToColor8(ImageFile.Read(f), Preprocessing.Order(preset))).ToList();
                var probs = segmenter.Probabilities(images);
                for (int i = 0; i < chunk.Length; i++)
                {
                    var name = Path.GetFileNameWithoutExtension(chunk[i]);
                    var prob = probs[i][0].contiguous().data<float>().ToArray();
                    var mask = prob.Select(v => v > 0.5f ? (byte)1 : (byte)0).ToArray();
                    ImageFile.WritePng(Path.Combine(outDir, name + ".png"), Mask.BinaryImage(mask, images[i].Width, images[i].Height));
                    if (parsed.GetValue(probabilities))
                        ImageFile.WritePng(Path.Combine(outDir, name + "_prob.png"),
                            Raster.Create16(images[i].Width, images[i].Height, 1, prob.Select(v => (ushort)Math.Round(Math.Clamp(v, 0f, 1f) * 65535)).ToArray()));
                    if (parsed.GetValue(overlays))
                        ImageFile.WritePng(Path.Combine(outDir, name + "_overlay.png"),
                            Overlays.Tile(ImageOps.ToColor8(ImageFile.Read(chunk[i]), ChannelOrder.Rgb), mask, null));
                    probs[i].Dispose();
                }
                done += chunk.Length;
            }
            Console.WriteLine($"wrote {done} mask(s) to {Path.GetFullPath(outDir)} ({spec.Describe()}, input {h}x{w}, {preset.ToString().ToLowerInvariant()} preprocessing)");
            return 0;
        });
        return command;
    }

    /// <summary>Files as given, and the images inside given folders (sorted); unknown paths are errors.</summary>
    public static string[] ExpandInputs(IEnumerable<string> inputs)
    {
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var found = ImageFile.ListImages(input);
                if (found.Count == 0) throw new UserError($"{input}: the folder holds no images (.png, .jpg, .bmp, .tif).");
                files.AddRange(found);
            }
            else if (File.Exists(input)) files.Add(input);
            else throw new UserError($"{input}: no such file or folder.");
        }
        var dupes = files.GroupBy(f => Path.GetFileNameWithoutExtension(f)).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (dupes.Count > 0) throw new UserError($"two inputs are named '{dupes[0]}' (different folders or extensions); their masks would overwrite each other: predict them separately.");
        return files.ToArray();
    }
}

/// <summary>
/// The options eval and predict share: the weights, the model spec (recorded in the file, or given), the input size
/// and the preprocessing, where settings recorded in the run folder a weights file sits in are the defaults.
/// </summary>
sealed class InferenceOptions
{
    public readonly ModelOptions Model = new();
    public readonly Option<string?> Size = new("--size") { Description = "Model input size N or HxW (default: the size the run trained at, else 256)." };
    public readonly Option<string?> Preprocessing = new("--preprocessing") { Description = "official or standard (default: the run's, else official)." };

    public void AddTo(Command command)
    {
        Model.AddTo(command);
        command.Options.Add(Size);
        command.Options.Add(Preprocessing);
    }

    public sealed record Resolved(torch.nn.Module<torch.Tensor, torch.Tensor> Net, UKan.Models.ModelSpec Spec, int Height, int Width,
        PreprocessingPreset Preset, UKan.Training.TrainConfig? Run);

    /// <summary>Loads the weights onto the device and settles size and preprocessing.</summary>
    public Resolved Resolve(ParseResult parsed, string weights, UKan.Training.TrainConfig? runConfig, torch.Device device)
    {
        runConfig ??= Near(weights);
        bool explicitModel = parsed.GetResult(Model.Preset) is { Implicit: false } || parsed.GetResult(Model.EmbedDims) is { Implicit: false };
        var (net, spec) = ModelLoader.Load(weights, explicitModel || weights.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) ? Model.Resolve(parsed) : null);
        net.to(device);
        var (h, w) = parsed.GetValue(Size) is string s ? TrainCommand.ParseSize(s) : (runConfig?.Height ?? 256, runConfig?.Width ?? 256);
        var preset = parsed.GetValue(Preprocessing) is string p ? UKan.Data.Preprocessing.Parse(p) : runConfig?.Preprocessing ?? PreprocessingPreset.Official;
        return new Resolved(net, spec, h, w, preset, runConfig);
    }

    /// <summary>The training settings of the run a weights file belongs to, when it sits in a run folder.</summary>
    public static UKan.Training.TrainConfig? Near(string weightsPath)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(weightsPath));
        for (int i = 0; i < 2 && dir is not null; i++, dir = Path.GetDirectoryName(dir))
        {
            var config = Path.Combine(dir, "config.json");
            if (File.Exists(config))
            {
                try { return UKan.Training.TrainConfig.FromJson(File.ReadAllText(config)); }
                catch (System.Text.Json.JsonException) { return null; }
            }
        }
        return null;
    }
}
