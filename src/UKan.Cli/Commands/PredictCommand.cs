using System.CommandLine;
using TorchSharp;
using UKan.Data;
using UKan.Evaluation;

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
        var overlays = new Option<bool>("--overlays") { Description = "Also write overlays (prediction in red; classes of a ce-dice model in the colours of --colour)." };
        var colour = new Option<bool>("--colour") { Description = "ce-dice models: also write the label map in colour (<name>_colour.png, a fixed palette; class 0 black)." };
        var batch = SharedOptions.Batch(8, "Images per forward pass.");
        var threshold = SharedOptions.Threshold();
        var engine = new Option<string>("--engine")
        {
            Description = "torch (TorchSharp, the weights of a run or a .pth) or onnx (ONNX Runtime on the CPU, a file from 'ukan export onnx' whose metadata gives the preprocessing).",
            DefaultValueFactory = _ => "torch",
        };
        engine.AcceptOnlyFromAmong("torch", "onnx");
        var inference = new InferenceOptions();
        inference.AddTo(command);
        command.Arguments.Add(inputs);
        foreach (var o in new Option[] { weights, output, probabilities, overlays, colour, batch, threshold, engine, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            int b = parsed.GetValue(batch), done = 0;
            if (b is < 1 or > 1024) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            Segmenter.CheckThreshold(parsed.GetValue(threshold));
            var weightsPath = InferenceOptions.WeightsIn(parsed.GetValue(weights)!);
            var files = ExpandInputs(parsed.GetValue(inputs)!);
            var outDir = parsed.GetValue(output)!;
            // Every check on the output before anything is computed or created: the input images, the weights, the
            // dataset the images come from and the one the weights' run trained on must not be overwritten, nor earlier
            // results without --overwrite.
            var run = UKan.Evaluation.InferenceModel.RunAround(weightsPath)?.Config;
            var outFull = UKan.IO.OutputGuard.CheckFolder(outDir, "--out", files.Append(weightsPath).Append(run?.Data));
            var names = files.Select(Path.GetFileNameWithoutExtension).SelectMany(n => new[]
            {
                n + ".png",
                parsed.GetValue(probabilities) ? n + "_prob.png" : null,
                parsed.GetValue(overlays) ? n + "_overlay.png" : null,
                parsed.GetValue(colour) ? n + "_colour.png" : null,
            }).OfType<string>().ToList();
            UKan.IO.OutputGuard.CheckExisting(outFull, names, "--out", parsed.GetValue(CommandLine.Overwrite));
            UKan.IO.RunLock LockOutput() => UKan.IO.OutputGuard.LockFolder(outFull, outDir, "--out", names, parsed.GetValue(CommandLine.Overwrite));
            bool onnx = parsed.GetValue(engine) == "onnx";
            if (onnx) inference.RefuseForOnnx(parsed, weightsPath);
            var rt = CommandLine.StartTorch(parsed);
            void Write(string file, SegmentationResult result)
            {
                var name = Path.GetFileNameWithoutExtension(file);
                ImageFile.WritePng(Path.Combine(outDir, name + ".png"), result.MaskImage());
                if (parsed.GetValue(probabilities)) ImageFile.WritePng(Path.Combine(outDir, name + "_prob.png"), result.ProbabilityImage());
                if (parsed.GetValue(overlays)) ImageFile.WritePng(Path.Combine(outDir, name + "_overlay.png"), result.Overlay());
            }
            if (onnx)
            {
                using var file = new UKan.Export.OnnxSegmenter(weightsPath, parsed.GetValue(inference.Size) is string size ? SharedOptions.ParseSize(size) : null,
                    parsed.GetValue(CommandLine.Threads));
                inference.RefuseOtherPreprocessing(parsed, file.Preset, weightsPath);
                if (parsed.GetValue(colour)) throw new UserError($"--colour: {weightsPath} holds a binary (sigmoid) model, no label map; drop --colour.");
                using var onnxOutputLock = LockOutput();
                foreach (var chunk in files.Chunk(b))
                {
                    var images = chunk.Select(f => ImageFile.Read(f)).ToList();
                    var probs = file.Probabilities(images.Select(i => ImageOps.ToColor8(i, Preprocessing.Order(file.Preset))).ToList());
                    for (int i = 0; i < chunk.Length; i++)
                    {
                        using var p = probs[i];
                        Write(chunk[i], new SegmentationResult(images[i], p[0].contiguous().data<float>().ToArray(), parsed.GetValue(threshold)));
                    }
                    done += chunk.Length;
                }
                Console.WriteLine($"wrote {done} mask(s) to {Path.GetFullPath(outDir)} ({file.Metadata.Spec.Describe()}, ONNX Runtime CPU, input {file.Height}x{file.Width}, " +
                                  $"{file.Preset.ToString().ToLowerInvariant()} preprocessing)");
                return 0;
            }
            var model = inference.Resolve(parsed, weightsPath, run, rt.Device);   // the run's settings, read once above
            bool labelMaps = model.Spec.Loss == UKan.Models.SegmentationLoss.CeDice;
            if (labelMaps && parsed.GetValue(probabilities))
                throw new UserError("--probabilities: a ce-dice model predicts one class per pixel (label maps); drop --probabilities.");
            if (labelMaps && parsed.GetResult(threshold) is { Implicit: false })
                throw new UserError("--threshold: a ce-dice model takes the most probable class of each pixel, no threshold; drop --threshold.");
            if (!labelMaps && parsed.GetValue(colour))
                throw new UserError($"--colour: {weightsPath} is a bce-dice model (a mask per class, no label map); drop --colour.");
            using var outputLock = LockOutput();
            if (labelMaps)
            {
                done = WriteLabelMaps(model, rt.Device, files, b, outDir, parsed.GetValue(overlays), parsed.GetValue(colour));
                Console.WriteLine($"wrote {done} label map(s) to {Path.GetFullPath(outDir)} ({model.Spec.Describe()}, input {model.Height}x{model.Width})");
                return 0;
            }
            using var segmenter = new Segmenter(model, rt.Device, parsed.GetValue(threshold), source: weightsPath);
            foreach (var chunk in files.Chunk(b))
            {
                var results = segmenter.Predict(chunk.Select(f => ImageFile.Read(f)).ToList());
                for (int i = 0; i < chunk.Length; i++) Write(chunk[i], results[i]);
                done += chunk.Length;
            }
            Console.WriteLine($"wrote {done} mask(s) to {Path.GetFullPath(outDir)} ({segmenter.Info.Description}, input {model.Height}x{model.Width}, {segmenter.Info.Preprocessing} preprocessing)");
            return 0;
        });
        return command;
    }

    /// <summary>
    /// A softmax (ce-dice) model: one 8-bit label map of class indices per image (argmax of the class probabilities at
    /// the image's own size), optionally in colour and as an overlay. Returns the number of images written.
    /// </summary>
    static int WriteLabelMaps(InferenceModel model, torch.Device device, string[] files, int batch, string outDir, bool overlays, bool colour)
    {
        var inference = new Inference(model.Net, model.Height, model.Width, model.Preset, model.Spec.InChannels, device, model.Spec.Loss);
        int done = 0;
        foreach (var chunk in files.Chunk(batch))
        {
            var raw = chunk.Select(f => ImageFile.Read(f)).ToList();
            var images = raw.Select(r => ImageOps.ToColor8(r, Preprocessing.Order(model.Preset))).ToList();
            var probs = inference.Probabilities(images);
            for (int i = 0; i < chunk.Length; i++)
            {
                var name = Path.GetFileNameWithoutExtension(chunk[i]);
                byte[] labels;
                using (torch.NewDisposeScope()) labels = probs[i].argmax(0).to(torch.ScalarType.Byte).contiguous().data<byte>().ToArray();
                probs[i].Dispose();
                ImageFile.WritePng(Path.Combine(outDir, name + ".png"), Raster.Create8(images[i].Width, images[i].Height, 1, labels));
                if (colour)
                    ImageFile.WritePng(Path.Combine(outDir, name + "_colour.png"), LabelMap.Colour(labels, images[i].Width, images[i].Height));
                if (overlays)
                    ImageFile.WritePng(Path.Combine(outDir, name + "_overlay.png"),
                        UKan.Plots.Overlays.LabelTile(ImageOps.ToColor8(raw[i], ChannelOrder.Rgb), labels, null));
            }
            done += chunk.Length;
        }
        return done;
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
/// and the preprocessing; <see cref="InferenceModel.Load"/> settles them (the run's settings are the defaults).
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

    /// <summary>A run folder given as --weights stands for its model.safetensors.</summary>
    public static string WeightsIn(string weights) => InferenceModel.WeightsIn(weights);

    /// <summary>
    /// Loads the weights onto the device and settles size and preprocessing. Model options, --size and
    /// --preprocessing that contradict what the weights file or its run records are refused, not ignored.
    /// </summary>
    /// <param name="foldBatchNorm">See <see cref="InferenceModel.Load"/>: false for the ONNX export.</param>
    public InferenceModel Resolve(ParseResult parsed, string weights, UKan.Training.TrainConfig? runConfig, torch.Device device,
        bool foldBatchNorm = true) =>
        InferenceModel.Load(weights, Model.Request(parsed),
            parsed.GetValue(Size) is string s && !(dynamicSize && s == "dynamic") ? SharedOptions.ParseSize(s) : null,
            parsed.GetValue(Preprocessing) is string p ? UKan.Data.Preprocessing.Parse(p) : null,
            runConfig, device, warning => Console.Error.WriteLine($"ukan: warning: {warning}"), foldBatchNorm);

    /// <summary>Model options contradict an ONNX file, which states its own model: refused rather than ignored.</summary>
    public void RefuseForOnnx(ParseResult parsed, string weights)
    {
        var given = new Option[] { Model.Model, Model.Preset, Model.EmbedDims, Model.Mlp, Model.InChannels, Model.Classes, Model.Loss, Model.ArchOptions }
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
}
