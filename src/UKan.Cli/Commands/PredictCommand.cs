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
        var weights = new Option<string>("--weights") { Description = "Weights: a run folder (its model.safetensors), a weights file or checkpoint, or an official .pth (with --preset).", Required = true };
        var inputs = new Argument<string[]>("inputs") { Description = "Image files or folders of images.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "Output folder (not the input folder; existing masks there are replaced only with --overwrite).", Required = true };
        var probabilities = new Option<bool>("--probabilities") { Description = "Also write probability maps (16-bit PNG, 0..65535)." };
        var overlays = new Option<bool>("--overlays") { Description = "Also write overlays (prediction in red)." };
        var batch = SharedOptions.Batch(8, "Images per forward pass.");
        var engine = new Option<string>("--engine")
        {
            Description = "torch (TorchSharp, the weights of a run or a .pth) or onnx (ONNX Runtime on the CPU, a file from 'ukan export onnx' whose metadata gives the preprocessing).",
            DefaultValueFactory = _ => "torch",
        };
        engine.AcceptOnlyFromAmong("torch", "onnx");
        var inference = new InferenceOptions();
        inference.AddTo(command);
        command.Arguments.Add(inputs);
        foreach (var o in new Option[] { weights, output, probabilities, overlays, batch, engine, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            int b = parsed.GetValue(batch), done = 0;
            if (b is < 1 or > 1024) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            var weightsPath = InferenceOptions.WeightsIn(parsed.GetValue(weights)!);
            var files = ExpandInputs(parsed.GetValue(inputs)!);
            var outDir = parsed.GetValue(output)!;
            // Every check on the output before anything is computed or created: the input images, the weights and the
            // dataset they come from must not be overwritten, nor earlier results without --overwrite.
            var outFull = UKan.IO.OutputGuard.CheckFolder(outDir, "--out", files.Append(weightsPath));
            var names = files.Select(Path.GetFileNameWithoutExtension).SelectMany(n => new[]
            {
                n + ".png",
                parsed.GetValue(probabilities) ? n + "_prob.png" : null,
                parsed.GetValue(overlays) ? n + "_overlay.png" : null,
            }).OfType<string>();
            UKan.IO.OutputGuard.CheckExisting(outFull, names, "--out", parsed.GetValue(CommandLine.Overwrite));
            bool onnx = parsed.GetValue(engine) == "onnx";
            if (onnx) inference.RefuseForOnnx(parsed, weightsPath);
            var rt = CommandLine.StartTorch(parsed);
            ISegmenter segmenter;
            string model;
            if (onnx)
            {
                var file = new UKan.Export.OnnxSegmenter(weightsPath, parsed.GetValue(inference.Size) is string size ? SharedOptions.ParseSize(size) : null,
                    parsed.GetValue(CommandLine.Threads));
                try { inference.RefuseOtherPreprocessing(parsed, file.Preset, weightsPath); }
                catch { file.Dispose(); throw; }
                (segmenter, model) = (file, $"{file.Metadata.Spec.Describe()}, ONNX Runtime CPU");
            }
            else
            {
                var r = inference.Resolve(parsed, weightsPath, null, rt.Device);
                (segmenter, model) = (new Inference(r.Net, r.Height, r.Width, r.Preset, r.Spec.InChannels, rt.Device), r.Spec.Describe());
            }
            using var disposable = segmenter as IDisposable;
            var preset = segmenter.Preset;
            UKan.IO.OutputGuard.CreateFolder(outFull, outDir, "--out");
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
            Console.WriteLine($"wrote {done} mask(s) to {Path.GetFullPath(outDir)} ({model}, input {segmenter.Height}x{segmenter.Width}, {preset.ToString().ToLowerInvariant()} preprocessing)");
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
/// <param name="dynamicSize">--size also takes "dynamic" (export: the size stays free in the graph; the run's size, else
/// 256, is what the file recommends).</param>
sealed class InferenceOptions(bool dynamicSize = false)
{
    public readonly ModelOptions Model = new();
    public readonly Option<string?> Size = SharedOptions.Size(dynamicSize
        ? "Input size in the graph: dynamic (default: any multiples of 32 at run time) or N / HxW fixed."
        : "Model input size N or HxW (default: the size the run trained at, else 256).");
    public readonly Option<string?> Preprocessing = new("--preprocessing") { Description = "official or standard (default: the run's, else official)." };

    public void AddTo(Command command)
    {
        Model.AddTo(command);
        command.Options.Add(Size);
        command.Options.Add(Preprocessing);
    }

    public sealed record Resolved(torch.nn.Module<torch.Tensor, torch.Tensor> Net, UKan.Models.ModelSpec Spec, int Height, int Width,
        PreprocessingPreset Preset, UKan.Training.TrainConfig? Run);

    /// <summary>Model options contradict an ONNX file, which states its own model: refused rather than ignored.</summary>
    public void RefuseForOnnx(ParseResult parsed, string weights)
    {
        var given = new Option[] { Model.Model, Model.Preset, Model.EmbedDims, Model.Mlp, Model.InChannels, Model.Classes, Model.ArchOptions }
            .FirstOrDefault(o => parsed.GetResult(o) is { Implicit: false });
        if (given is not null)
            throw new UserError($"{given.Name}: {weights} is an ONNX file, which states its own model; drop {given.Name}.");
    }

    /// <summary>--preprocessing that differs from what an ONNX file's metadata records is refused.</summary>
    public void RefuseOtherPreprocessing(ParseResult parsed, PreprocessingPreset recorded, string weights)
    {
        if (parsed.GetValue(Preprocessing) is string p && UKan.Data.Preprocessing.Parse(p) != recorded)
            throw new UserError($"--preprocessing {p}: {weights} was exported with {recorded.ToString().ToLowerInvariant()} preprocessing; drop --preprocessing.");
    }

    /// <summary>A run folder given as --weights stands for its model.safetensors.</summary>
    public static string WeightsIn(string weights)
    {
        if (!Directory.Exists(weights)) return weights;
        var model = Path.Combine(weights, "model.safetensors");
        return File.Exists(model) ? model
            : throw new UserError($"--weights {weights}: a folder without model.safetensors; give a run folder whose first epoch has finished, or a weights file.");
    }

    /// <summary>
    /// Loads the weights onto the device and settles size and preprocessing. Model options, --size and
    /// --preprocessing that contradict what the weights file or its run records are refused, not ignored.
    /// </summary>
    public Resolved Resolve(ParseResult parsed, string weights, UKan.Training.TrainConfig? runConfig, torch.Device device)
    {
        runConfig ??= Near(weights);
        bool Given(Option o) => parsed.GetResult(o) is { Implicit: false };
        bool explicitModel = new Option[] { Model.Model, Model.Preset, Model.EmbedDims, Model.Mlp, Model.InChannels, Model.Classes, Model.ArchOptions }.Any(Given);
        var (net, spec) = ModelLoader.Load(weights, recorded =>
        {
            if (recorded is null)
                return explicitModel || weights.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) || weights.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
                    ? Model.Resolve(parsed)
                    : throw new UserError($"--weights {weights}: the file does not record its model configuration; pass --preset (or --embed-dims, --mlp, --model) as it was trained.");
            if (!explicitModel) return recorded;
            // Compare only what was given: the rest comes from the file.
            var asked = Model.Resolve(parsed);
            var given = recorded with
            {
                Architecture = Given(Model.Model) ? asked.Architecture : recorded.Architecture,
                EmbedDims = Given(Model.Preset) || Given(Model.EmbedDims) ? asked.EmbedDims : recorded.EmbedDims,
                Preset = Given(Model.Preset) || Given(Model.EmbedDims) ? asked.Preset : recorded.Preset,
                Mixer = Given(Model.Mlp) ? asked.Mixer : recorded.Mixer,
                InChannels = Given(Model.InChannels) ? asked.InChannels : recorded.InChannels,
                NumClasses = Given(Model.Classes) ? asked.NumClasses : recorded.NumClasses,
                ArchitectureOptions = Given(Model.ArchOptions) ? asked.ArchitectureOptions : null,
            };
            ModelLoader.RefuseConflict(recorded, given, weights);
            return recorded;
        }, warning => Console.Error.WriteLine($"ukan: warning: {warning}"));
        net.to(device);
        var sizeText = parsed.GetValue(Size) is string given && !(dynamicSize && given == "dynamic") ? given : null;
        var (h, w) = sizeText is string s ? SharedOptions.ParseSize(s) : (runConfig?.Height ?? 256, runConfig?.Width ?? 256);
        if (sizeText is not null && runConfig is not null && (h, w) != (runConfig.Height, runConfig.Width))
            throw new UserError($"--size {parsed.GetValue(Size)}: the run of {weights} trained at {runConfig.Height}x{runConfig.Width}, and the model only knows that size; drop --size.");
        var preset = parsed.GetValue(Preprocessing) is string p ? UKan.Data.Preprocessing.Parse(p) : runConfig?.Preprocessing ?? PreprocessingPreset.Official;
        if (runConfig is not null && preset != runConfig.Preprocessing)
            throw new UserError($"--preprocessing {parsed.GetValue(Preprocessing)}: the run of {weights} trained with {runConfig.Preprocessing.ToString().ToLowerInvariant()} preprocessing; drop --preprocessing.");
        return new Resolved(net, spec, h, w, preset, runConfig);
    }

    /// <summary>
    /// The training settings of the run a weights file belongs to, when it sits in a run folder (or its checkpoints/).
    /// A run folder (marker) with a damaged config.json is an error; a config.json of something else is ignored.
    /// </summary>
    public static UKan.Training.TrainConfig? Near(string weightsPath)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(weightsPath));
        for (int i = 0; i < 2 && dir is not null; i++, dir = Path.GetDirectoryName(dir))
        {
            var config = Path.Combine(dir, "config.json");
            if (UKan.IO.RunDirectory.IsRun(dir) && UKan.IO.RunDirectory.Kind(dir) == UKan.IO.RunDirectory.Segmentation)
                return File.Exists(config) ? UKan.Training.TrainConfig.Load(config)
                    : throw new UserError($"{dir}: the run folder of {weightsPath} has no config.json; restore it, or copy the weights file out of the folder.");
            if (File.Exists(config))
            {
                try { return UKan.Training.TrainConfig.FromJson(File.ReadAllText(config)); }
                catch (Exception e) when (e is System.Text.Json.JsonException or UserError or NotSupportedException) { return null; }
            }
        }
        return null;
    }
}
