using System.CommandLine;
using TorchSharp;
using UKan.Export;

namespace UKan.Cli.Commands;

/// <summary><c>ukan export onnx</c>: a trained or official model as an ONNX file for other runtimes (docs/deploy.md).</summary>
static class ExportCommand
{
    public static Command Create()
    {
        var command = new Command("export", "Export a model for other runtimes.");
        command.Subcommands.Add(Onnx());
        return command;
    }

    static Command Onnx()
    {
        var command = new Command("onnx", "Write an ONNX model (outputs logits and sigmoid probabilities) with its preprocessing in the metadata; docs/deploy.md.");
        var weights = new Option<string>("--weights") { Description = "Weights: a run folder (its model.safetensors), a weights file or checkpoint, or an official .pth (with --preset).", Required = true };
        var output = new Option<string>("--out") { Description = "The .onnx file to write (an existing one is replaced only with --overwrite).", Required = true };
        var opset = new Option<int>("--opset") { Description = $"ONNX operator set, {OnnxExporter.MinOpset} to {OnnxExporter.MaxOpset}.", DefaultValueFactory = _ => OnnxExporter.DefaultOpset };
        var batch = new Option<string>("--batch") { Description = "Batch axis: dynamic (default) or a fixed N.", DefaultValueFactory = _ => "dynamic" };
        var inference = new InferenceOptions(dynamicSize: true);
        inference.AddTo(command);
        foreach (var o in new Option[] { weights, output, opset, batch, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            // Every option and the output place are checked before the weights are read.
            OnnxExporter.CheckOpset(parsed.GetValue(opset));
            var fixedBatch = ParseBatch(parsed.GetValue(batch)!);
            var sizeText = parsed.GetValue(inference.Size);
            (int, int)? fixedSize = sizeText is null or "dynamic" ? null : SharedOptions.ParseSize(sizeText);
            var given = parsed.GetValue(weights)!;
            if (!File.Exists(given) && !Directory.Exists(given)) throw new UserError($"--weights {given}: no such file or folder.");
            var weightsPath = InferenceOptions.WeightsIn(given);
            // The run the weights come from is read too (its settings), and the data it trained on must not receive the
            // export: its files and its dataset are inputs, never places to write.
            var run = UKan.Evaluation.InferenceModel.RunAround(weightsPath);
            var outPath = parsed.GetValue(output)!;
            UKan.IO.OutputGuard.CheckFile(outPath, "--out", parsed.GetValue(CommandLine.Overwrite),
                [weightsPath, given, run?.Folder.Config, run?.Config.Data, run?.Config.Split]);

            CommandLine.StartTorch(parsed);
            // Unfolded: the exporter walks the model's own layers and folds each BN into its conv in the graph.
            var resolved = inference.Resolve(parsed, weightsPath, run?.Config, torch.CPU, foldBatchNorm: false);
            var metadata = new OnnxMetadata
            {
                Spec = resolved.Spec,
                Preprocessing = resolved.Preset,
                Height = resolved.Height,
                Width = resolved.Width,
                UkanVersion = OnnxExporter.UkanVersion,
                SourceWeights = Path.GetFileName(weightsPath),
                SourceSha256 = OnnxExporter.Sha256(weightsPath),
                SourceRun = run is null ? null : Path.GetFileName(run.Value.Folder.Root),
            };
            var options = new OnnxExportOptions { Opset = parsed.GetValue(opset), Batch = fixedBatch, Size = fixedSize };
            var graph = OnnxExporter.Build(resolved.Net, metadata, options);
            var bytes = OnnxExporter.Encode(graph, metadata);
            AtomicFile.WriteAllBytes(outPath, bytes);
            string Axis(int? n) => n?.ToString() ?? "dynamic";
            Console.WriteLine($"wrote {Path.GetFullPath(outPath)} ({bytes.Length / 1048576.0:F1} MiB, opset {options.Opset}, {graph.NodeCount} nodes): " +
                              $"{resolved.Spec.Describe()}; input (batch {Axis(fixedBatch)}, {resolved.Spec.InChannels}, " +
                              $"{Axis(fixedSize?.Item1)}, {Axis(fixedSize?.Item2)}), recommended size {resolved.Height}x{resolved.Width}, " +
                              $"{resolved.Preset.ToString().ToLowerInvariant()} preprocessing");
            Console.WriteLine($"operators: {string.Join(", ", graph.OpCounts.Select(kv => $"{kv.Key} {kv.Value}"))}");
            return 0;
        });
        return command;
    }

    static int? ParseBatch(string text)
    {
        if (text == "dynamic") return null;
        return int.TryParse(text, out var n) && n is >= 1 and <= 1024 ? n
            : throw new UserError($"--batch {text}: give dynamic or a number from 1 to 1024.");
    }
}
