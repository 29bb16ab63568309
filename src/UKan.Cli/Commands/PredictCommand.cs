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
        var overlays = new Option<bool>("--overlays") { Description = "Also write overlays (prediction in red)." };
        var batch = SharedOptions.Batch(8, "Images per forward pass.");
        var threshold = SharedOptions.Threshold();
        var inference = new InferenceOptions();
        inference.AddTo(command);
        command.Arguments.Add(inputs);
        foreach (var o in new Option[] { weights, output, probabilities, overlays, batch, threshold, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            int b = parsed.GetValue(batch), done = 0;
            if (b is < 1 or > 1024) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            Segmenter.CheckThreshold(parsed.GetValue(threshold));
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
            var rt = CommandLine.StartTorch(parsed);
            var model = inference.Resolve(parsed, weightsPath, null, rt.Device);
            UKan.IO.OutputGuard.CreateFolder(outFull, outDir, "--out");
            using var segmenter = new Segmenter(model, rt.Device, parsed.GetValue(threshold), source: weightsPath);
            foreach (var chunk in files.Chunk(b))
            {
                var results = segmenter.Predict(chunk.Select(f => ImageFile.Read(f)).ToList());
                for (int i = 0; i < chunk.Length; i++)
                {
                    var name = Path.GetFileNameWithoutExtension(chunk[i]);
                    ImageFile.WritePng(Path.Combine(outDir, name + ".png"), results[i].MaskImage());
                    if (parsed.GetValue(probabilities)) ImageFile.WritePng(Path.Combine(outDir, name + "_prob.png"), results[i].ProbabilityImage());
                    if (parsed.GetValue(overlays)) ImageFile.WritePng(Path.Combine(outDir, name + "_overlay.png"), results[i].Overlay());
                }
                done += chunk.Length;
            }
            Console.WriteLine($"wrote {done} mask(s) to {Path.GetFullPath(outDir)} ({segmenter.Info.Description}, input {model.Height}x{model.Width}, {segmenter.Info.Preprocessing} preprocessing)");
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
/// and the preprocessing; <see cref="InferenceModel.Load"/> settles them (the run's settings are the defaults).
/// </summary>
sealed class InferenceOptions
{
    public readonly ModelOptions Model = new();
    public readonly Option<string?> Size = SharedOptions.Size("Model input size N or HxW (default: the size the run trained at, else 256).");
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
    public InferenceModel Resolve(ParseResult parsed, string weights, UKan.Training.TrainConfig? runConfig, torch.Device device) =>
        InferenceModel.Load(weights, Model.Request(parsed),
            parsed.GetValue(Size) is string s ? SharedOptions.ParseSize(s) : null,
            parsed.GetValue(Preprocessing) is string p ? UKan.Data.Preprocessing.Parse(p) : null,
            runConfig, device, warning => Console.Error.WriteLine($"ukan: warning: {warning}"));
}
