using System.CommandLine;
using UKan.Data;
using UKan.Evaluation;
using UKan.Plots;

namespace UKan.Cli.Commands;

/// <summary><c>ukan plot kan</c>: the learned activation functions of a trained KAN model, as pykan draws them.</summary>
static class PlotCommand
{
    /// <summary>Images fed through the model to record the layers' inputs (the first ones of the set, in order).</summary>
    const int MaxImages = 64;

    public static Command Create()
    {
        var command = new Command("plot", "Plots of trained models.");
        var kan = new Command("kan", "The learned univariate functions of every KAN layer (U-KAN's KANLinear, ALL U-KAN's shared activations and " +
            "their per-edge scalings): the most important edges by L1 over the inputs seen on validation images, as PNG, SVG and CSV.");
        var weights = new Option<string>("--weights") { Description = "A run folder (its model.safetensors) or a weights file.", Required = true };
        var data = new Option<string?>("--data")
        {
            Description = $"Images whose layer inputs rank the edges: a dataset folder or a folder of images (default: the run's validation images; " +
                          $"at most the first {MaxImages}). Without any, edges are ranked over a uniform sample of the grid range.",
        };
        var top = new Option<int>("--top") { Description = "Edges drawn per layer.", DefaultValueFactory = _ => 16 };
        var layer = new Option<string>("--layer") { Description = "A layer's module name (e.g. block1.0.layer.fc1), or all.", DefaultValueFactory = _ => "all" };
        var output = new Option<string>("--out") { Description = "Output folder (existing plots there are replaced only with --overwrite).", Required = true };
        var inference = new InferenceOptions();
        inference.AddTo(kan);
        foreach (var o in new Option[] { weights, data, top, layer, output, CommandLine.Overwrite }) kan.Options.Add(o);
        kan.SetAction(parsed =>
        {
            int n = parsed.GetValue(top);
            if (n is < 1 or > 256) throw new UserError($"--top {n}: must be between 1 and 256.");
            var weightsPath = InferenceOptions.WeightsIn(parsed.GetValue(weights)!);
            if (!File.Exists(weightsPath)) throw new UserError($"--weights {weightsPath}: no such run folder or weights file.");
            var dataDir = parsed.GetValue(data);
            if (dataDir is not null && !Directory.Exists(dataDir)) throw new UserError($"--data {dataDir}: folder not found.");
            var outDir = parsed.GetValue(output)!;
            UKan.IO.OutputGuard.CheckFolder(outDir, "--out", [weightsPath, dataDir]);

            var rt = CommandLine.StartTorch(parsed);
            var (net, spec, h, w, preset, run) = inference.Resolve(parsed, weightsPath, null, rt.Device);
            // Without --data the run's own images are read: its dataset is an input too.
            var outFull = UKan.IO.OutputGuard.CheckFolder(outDir, "--out", [weightsPath, dataDir ?? run?.Data]);
            var all = KanActivations.Layers(net);
            if (all.Count == 0) throw new UserError($"--weights {weightsPath}: {spec.Describe()} has no KAN layers (the MLP ablation has none); plot a KAN model.");
            var wanted = parsed.GetValue(layer)!;
            var layers = wanted == "all" ? all : all.Where(l => l.Name == wanted).ToList();
            if (layers.Count == 0)
                throw new UserError($"--layer {wanted}: no KAN layer of that name; use all or one of {string.Join(", ", all.Select(l => l.Name).Take(12))}{(all.Count > 12 ? ", ..." : "")}.");
            var images = ImagesFor(dataDir, run, weightsPath);
            var stems = layers.Select(l => KanActivationPlot.FileStem(l.Name)).ToList();
            UKan.IO.OutputGuard.CheckExisting(outFull, stems.SelectMany(s => new[] { s + ".png", s + ".svg" }).Append("curves.csv"), "--out",
                parsed.GetValue(CommandLine.Overwrite));

            Dictionary<string, TorchSharp.torch.Tensor> inputs = [];
            string ranking;
            if (images.Count > 0)
            {
                var segmenter = new Inference(net, h, w, preset, spec.InChannels, rt.Device);
                inputs = KanActivations.RecordInputs(layers, () =>
                {
                    foreach (var chunk in images.Chunk(8))
                        foreach (var p in segmenter.Probabilities(chunk.Select(f => ImageOps.ToColor8(ImageFile.Read(f), Preprocessing.Order(preset))).ToList()))
                            p.Dispose();
                });
                ranking = $"L1 over the layer inputs of {images.Count} image(s)";
            }
            else ranking = "no images given: L1 over a uniform sample of the grid range";

            UKan.IO.OutputGuard.CreateFolder(outFull, outDir, "--out");
            var results = new List<LayerActivations>();
            for (int k = 0; k < layers.Count; k++)
            {
                var (name, module) = layers[k];
                var result = KanActivations.Analyse(name, module, inputs.GetValueOrDefault(name), n);
                KanActivationPlot.Save(Path.Combine(outDir, stems[k] + ".png"), Path.Combine(outDir, stems[k] + ".svg"), result, ranking);
                results.Add(result);
            }
            KanActivationPlot.WriteCsv(Path.Combine(outDir, "curves.csv"), results);
            foreach (var t in inputs.Values) t.Dispose();
            Console.WriteLine($"{spec.Describe()}: {layers.Count} layer(s), {ranking}");
            Console.WriteLine($"wrote {layers.Count} PNG and SVG figure(s) and curves.csv to {Path.GetFullPath(outDir)}");
            return 0;
        });
        command.Subcommands.Add(kan);
        return command;
    }

    /// <summary>The images whose layer inputs rank the edges: --data, else the run's validation images; none without either.</summary>
    static IReadOnlyList<string> ImagesFor(string? dataDir, UKan.Training.TrainConfig? run, string weightsPath)
    {
        if (dataDir is not null)
        {
            var (listed, files) = ImageFile.ListImagesOf(dataDir, "--data");
            if (files.Count == 0) throw new UserError($"--data {dataDir}: no images in {listed} (.png, .jpg, .bmp, .tif).");
            return files.Take(MaxImages).ToList();
        }
        if (run is null || !Directory.Exists(run.Data)) return [];
        var folder = new SegmentationFolder(run.Data, run.Model.NumClasses, run.Model.Loss == UKan.Models.SegmentationLoss.CeDice);
        IReadOnlyList<string> ids = folder.Ids;
        // The run folder is where the weights sit (model.safetensors) or its parent (checkpoints/).
        var dir = Path.GetDirectoryName(Path.GetFullPath(weightsPath))!;
        var split = new[] { dir, Path.GetDirectoryName(dir) ?? dir }.Select(d => Path.Combine(d, "split.json")).FirstOrDefault(File.Exists);
        if (split is not null) ids = DataSplit.Load(split).Validation.Where(folder.Ids.Contains).ToList();
        return ids.Take(MaxImages).Select(folder.ImagePath).ToList();
    }
}
