using System.CommandLine;
using System.Text.Json;
using UKan.Benchmarks;
using UKan.Training;

namespace UKan.Cli.Commands;

/// <summary><c>ukan bench</c>: training-step and inference time, throughput and peak memory; <c>ukan bench kan</c>: KANLinear vs Linear.</summary>
static class BenchCommand
{
    static readonly Option<int> Warmup = new("--warmup") { Description = "Untimed warm-up runs.", DefaultValueFactory = _ => 10 };
    static readonly Option<int> Runs = new("--runs") { Description = "Timed runs (median and 10–90 % spread are reported).", DefaultValueFactory = _ => 40 };
    static readonly Option<string> PrecisionOption = SharedOptions.Precision(acceptOnly: false, "fp32", "tf32", "fp32-strict");
    static readonly Option<string?> Json = new("--json") { Description = "Also write the results to this JSON file." };
    static readonly Option<bool> NoFused = new("--no-fused") { Description = "Use the element-wise torch KAN features instead of the fused CUDA kernels." };
    static readonly Option<string> KanPathOption = new("--kan-path") { Description = "KANLinear evaluation: auto (closed-form cubic, custom backward), general (efficient-kan's Cox–de Boor through autograd, the reference formulation's memory).", DefaultValueFactory = _ => "auto" };
    static readonly Option<string> Layout = SharedOptions.Layout();
    static readonly Option<bool> Breakdown = new("--breakdown") { Description = "Also time the phases of an eager training step (forward with loss, backward, optimizer), each between synchronisations." };
    static readonly Option<string> Graphs = SharedOptions.Graphs();

    public static Command Create()
    {
        var command = new Command("bench", "Time a training step and inference of a model (median of N runs after warm-up), with throughput and peak memory.");
        var model = new ModelOptions();
        model.AddTo(command);
        var batch = SharedOptions.Batch(8);
        var sizes = new Option<int[]>("--size") { Description = "Input size(s), e.g. --size 256 --size 512.", DefaultValueFactory = _ => [256], AllowMultipleArgumentsPerToken = true };
        KanPathOption.AcceptOnlyFromAmong("auto", "general");
        foreach (var o in new Option[] { batch, sizes, PrecisionOption, Warmup, Runs, Json, NoFused, Graphs, KanPathOption, Layout, Breakdown, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            CheckCommon(parsed);
            if (parsed.GetValue(batch) is var b and (< 1 or > 1024)) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            foreach (var size in parsed.GetValue(sizes)!)
                if (size <= 0 || size % 32 != 0 || size > UKan.Training.TrainConfig.MaxSide)
                    throw new UserError($"--size {size}: must be a positive multiple of 32 up to {UKan.Training.TrainConfig.MaxSide}.");
            var rt = CommandLine.StartTorch(parsed);
            var spec = model.Resolve(parsed);
            var precision = PrecisionSettings.Parse(parsed.GetValue(PrecisionOption)!);
            UKan.Layers.KanFeatures.UseFusedKernels = !parsed.GetValue(NoFused);
            if (parsed.GetValue(KanPathOption) == "general") UKan.Layers.KanLinear.GlobalPath = UKan.Layers.KanPath.General;
            bool graphs = UseGraphs(parsed, rt);
            var results = new List<ModelBenchResult>();
            foreach (var size in parsed.GetValue(sizes)!)
            {
                if (size <= 0 || size % 32 != 0) throw new UserError($"--size {size}: must be a positive multiple of 32.");
                results.Add(ModelBench.Run(spec, parsed.GetValue(batch), size, precision, rt.Device, parsed.GetValue(Warmup), parsed.GetValue(Runs), graphs, channelsLast: SharedOptions.ChannelsLast(parsed.GetValue(Layout), rt.Device), phases: parsed.GetValue(Breakdown)));
            }
            var table = new TextTable("model", "params", "batch×size", "precision", "mode", "train step ms (p10–p90)", "img/s", "train peak MiB (alloc/reserved)", "inference ms (p10–p90)", "img/s", "infer peak MiB (alloc/reserved)");
            foreach (var r in results)
                table.Add(r.Model, r.Parameters.ToString("N0"), $"{r.Batch}×{r.Size}", r.Precision, r.Mode,
                    $"{r.TrainStep.MedianMs:F2} ({r.TrainStep.Spread})", r.TrainImagesPerSecond.ToString("F1"), $"{Mib(r.TrainPeakBytes)}/{Mib(r.TrainPeakReservedBytes)}",
                    $"{r.Inference.MedianMs:F2} ({r.Inference.Spread})", r.InferenceImagesPerSecond.ToString("F1"), $"{Mib(r.InferencePeakBytes)}/{Mib(r.InferencePeakReservedBytes)}");
            TextTable? phases = null;
            if (results.Any(r => r.Phases is not null))
            {
                phases = new TextTable("batch×size", "eager step phase", "ms (p10–p90)", "share");
                foreach (var r in results.Where(r => r.Phases is not null))
                {
                    var p = r.Phases!;
                    double total = p.Forward.MedianMs + p.Backward.MedianMs + p.Optimizer.MedianMs;
                    foreach (var (name, t) in new[] { ("forward + loss", p.Forward), ("backward", p.Backward), ("optimizer step", p.Optimizer) })
                        phases.Add($"{r.Batch}×{r.Size}", name, $"{t.MedianMs:F2} ({t.Spread})", $"{100 * t.MedianMs / total:F0} %");
                }
            }
            Print(rt.Device.ToString(), results.FirstOrDefault()?.MemoryMethod, table, results, parsed.GetValue(Json), phases);
            return 0;
        });

        var kan = new Command("kan", "KANLinear(d, d) forward + backward against a bias-free Linear(d, d) on the same rows.");
        var rows = new Option<long?>("--rows") { Description = "Rows (tokens × batch); default: 2048×160, 8192×256 and 32768×128 (docs/results.md §2c)." };
        var dim = new Option<int?>("--dim") { Description = "Features d." };
        foreach (var o in new Option[] { rows, dim, PrecisionOption, Warmup, Runs, Json, NoFused, Graphs, CommandLine.Overwrite }) kan.Options.Add(o);
        kan.SetAction(parsed =>
        {
            CheckCommon(parsed);
            if (parsed.GetValue(rows) is long r0 and (< 1 or > 100_000_000)) throw new UserError($"--rows {r0}: must be between 1 and 100000000.");
            if (parsed.GetValue(dim) is int d0 and (< 1 or > 16384)) throw new UserError($"--dim {d0}: must be between 1 and 16384.");
            if ((parsed.GetValue(rows) is null) != (parsed.GetValue(dim) is null)) throw new UserError("--rows and --dim go together; give both, or neither for the paper's shapes.");
            var rt = CommandLine.StartTorch(parsed);
            var precision = PrecisionSettings.Parse(parsed.GetValue(PrecisionOption)!);
            UKan.Layers.KanFeatures.UseFusedKernels = !parsed.GetValue(NoFused);
            var shapes = parsed.GetValue(rows) is long r && parsed.GetValue(dim) is int d ? [(r, d)] : KanBench.PaperShapes;
            bool graphs = UseGraphs(parsed, rt);
            var results = shapes.Select(s => KanBench.Run(s.Rows, s.Dim, precision, rt.Device, parsed.GetValue(Warmup), parsed.GetValue(Runs), graphs)).ToList();
            var table = new TextTable("rows × d", "KANLinear ms (p10–p90)", "Linear ms (p10–p90)", "ratio", "KAN peak MiB", "Linear peak MiB");
            foreach (var x in results)
                table.Add($"{x.Rows:N0} × {x.Dim}", $"{x.Kan.MedianMs:F3} ({x.Kan.Spread})", $"{x.Linear.MedianMs:F3} ({x.Linear.Spread})",
                    $"{x.Ratio:F1}×", Mib(x.KanPeakBytes), Mib(x.LinearPeakBytes));
            Print(rt.Device.ToString(), results.FirstOrDefault()?.MemoryMethod, table, results, parsed.GetValue(Json));
            Console.WriteLine($"KANLinear path: {results.FirstOrDefault()?.KanPath}; fused CUDA kernels: {(rt.Device.type == TorchSharp.DeviceType.CUDA && UKan.Layers.KanFeatures.UseFusedKernels ? (UKan.Layers.KanFeatures.CudaKernels(UKan.Native.DeviceIndex.Of(rt.Device)) is null ? "unavailable (" + UKan.Layers.KanFeatures.CudaProblem + ")" : "yes") : "no")}");
            return 0;
        });
        command.Subcommands.Add(kan);
        command.Subcommands.Add(Products());
        command.Subcommands.Add(BenchServeCommand.Create());
        command.Subcommands.Add(Onnx());
        return command;
    }

    /// <summary><c>bench products</c>: the KAN layers' float32 products in every plan the training step chooses among.</summary>
    static Command Products()
    {
        var command = new Command("products", "The float32 products of U-KAN's KAN layers (paper preset) timed in every plan the training step chooses among: cuBLAS, split along the reduction or not, and our product kernels (by default our tensor-core tiles of 64 and 128 columns, unsplit or in 4, 8, 12 or 16, for the products of at least 2^30 multiply-adds; all of them with UKAN_KAN_PRODUCT_KERNELS=on). CUDA only.");
        var sizes = new Option<int[]>("--size") { Description = "Image side (repeatable); default 256 and 512.", AllowMultipleArgumentsPerToken = true };
        var batch = new Option<int>("--batch") { Description = "Images per batch.", DefaultValueFactory = _ => 8 };
        foreach (var o in new Option[] { sizes, batch, Json, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var chosenSizes = parsed.GetValue(sizes) is { Length: > 0 } given ? given : [256, 512];
            foreach (var size in chosenSizes)
                if (size <= 0 || size % 32 != 0 || size > UKan.Training.TrainConfig.MaxSide)
                    throw new UserError($"--size {size}: must be a positive multiple of 32 up to {UKan.Training.TrainConfig.MaxSide}.");
            if (parsed.GetValue(batch) is var b and (< 1 or > 256)) throw new UserError($"--batch {b}: must be between 1 and 256.");
            if (parsed.GetValue(Json) is string target) UKan.IO.OutputGuard.CheckFile(target, "--json", parsed.GetValue(CommandLine.Overwrite), []);
            var rt = CommandLine.StartTorch(parsed);
            if (rt.Device.type != TorchSharp.DeviceType.CUDA)
                throw new UserError("bench products times the GPU's products: run it with --device cuda on a machine with a CUDA GPU.");
            PrecisionSettings.Apply(Precision.Fp32Strict);
            var results = chosenSizes.SelectMany(s => UKan.Benchmarks.ProductBench.Run(s, parsed.GetValue(batch), rt.Device)).ToList();
            var table = new TextTable("size", "KAN layer (tokens × d)", "product", "M×K·K×N", "cuBLAS ms (TFLOP/s)", "best cuBLAS", "best ours", "chosen", "chosen, kernels on");
            foreach (var r in results)
                table.Add($"{r.Size}²", r.Layer, r.Product, $"{r.M}×{r.K}·{r.K}×{r.N} {r.Layout}", $"{r.CublasMs:F4} ({r.Tflops(r.CublasMs):F0})",
                    $"{r.BestCublas}: {r.BestCublasMs:F4} ({r.Tflops(r.BestCublasMs):F0})",
                    r.BestOursMs is double o ? $"{r.BestOurs}: {o:F4} ({r.Tflops(o):F0})" : "—", r.Chosen, r.ChosenWithKernels);
            Console.WriteLine($"device: {rt.Device}; float32 products (TF32 off); GPU time (back to back, as a replayed CUDA graph), medians of 5 rounds of 10 products; TFLOP/s in brackets");
            Console.Write(table);
            if (parsed.GetValue(Json) is string json)
            {
                AtomicFile.WriteAllText(json, UKan.IO.JsonFiles.Serialize(new { device = rt.Device.ToString(), results }));
                Console.WriteLine($"wrote {json}");
            }
            return 0;
        });
        return command;
    }

    /// <summary><c>bench onnx</c>: CPU inference, TorchSharp against ONNX Runtime on the exported graph.</summary>
    static Command Onnx()
    {
        var command = new Command("onnx", "CPU inference of a model in TorchSharp and in ONNX Runtime (its exported graph): median of N runs after warm-up.");
        var model = new ModelOptions();
        model.AddTo(command);
        var batch = SharedOptions.Batch(1);
        var size = new Option<int>("--size") { Description = "Input size (square).", DefaultValueFactory = _ => 256 };
        foreach (var o in new Option[] { batch, size, Warmup, Runs, Json, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            CheckCommon(parsed);
            if (parsed.GetValue(batch) is var b and (< 1 or > 1024)) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            if (parsed.GetValue(size) is var s && (s <= 0 || s % 32 != 0 || s > UKan.Training.TrainConfig.MaxSide))
                throw new UserError($"--size {s}: must be a positive multiple of 32 up to {UKan.Training.TrainConfig.MaxSide}.");
            if (parsed.GetValue(CommandLine.Device) == "cuda") throw new UserError("--device cuda: bench onnx times the CPU (ONNX Runtime's CPU provider); drop --device.");
            CommandLine.StartTorch(parsed);
            var spec = model.Resolve(parsed);
            var r = OnnxBench.Run(spec, parsed.GetValue(batch), parsed.GetValue(size), parsed.GetValue(Warmup), parsed.GetValue(Runs));
            var table = new TextTable("model", "params", "batch×size", "threads", "engine", "inference ms (p10–p90)", "img/s");
            foreach (var (engine, t) in new[] { ("TorchSharp CPU", r.Torch), ("ONNX Runtime CPU", r.Onnx) })
                table.Add(r.Model, r.Parameters.ToString("N0"), $"{r.Batch}×{r.Size}", r.Threads.ToString(), engine,
                    $"{t.MedianMs:F2} ({t.Spread})", (r.Batch * 1000 / t.MedianMs).ToString("F2"));
            Print("cpu", "-", table, [r], parsed.GetValue(Json));
            Console.WriteLine($"ONNX graph: {r.OnnxNodes} nodes, {r.OnnxMiB:F1} MiB; logits max |onnx - torch| / max |torch| = {r.MaxRelativeDifference:G3}; " +
                              $"ORT / TorchSharp time: {r.Onnx.MedianMs / r.Torch.MedianMs:F2}");
            return 0;
        });
        return command;
    }

    /// <summary>The options both bench commands share, checked before torch starts; the JSON file before hours of timing.</summary>
    static void CheckCommon(ParseResult parsed)
    {
        if (parsed.GetValue(Warmup) is var w and (< 0 or > 100_000)) throw new UserError($"--warmup {w}: must be between 0 and 100000.");
        if (parsed.GetValue(Runs) is var n and (< 1 or > 100_000)) throw new UserError($"--runs {n}: must be between 1 and 100000.");
        if (parsed.GetValue(Json) is string json) UKan.IO.OutputGuard.CheckFile(json, "--json", parsed.GetValue(CommandLine.Overwrite), []);
    }

    static bool UseGraphs(ParseResult parsed, UKan.Native.RuntimeInfo rt)
    {
        var mode = parsed.GetValue(Graphs);
        SharedOptions.CheckGraphs(mode);
        return mode switch
        {
            "off" => false,
            "on" => true,
            _ => rt.Device.type == TorchSharp.DeviceType.CUDA && UKan.Native.TorchCudaShim.Available,
        };
    }

    static string Mib(long bytes) => (bytes / 1048576.0).ToString("N0");

    static void Print<T>(string device, string? memoryMethod, TextTable table, List<T> results, string? jsonPath, TextTable? more = null)
    {
        Console.WriteLine($"device: {device}; memory: {memoryMethod}");
        Console.Write(table);
        if (more is not null) { Console.WriteLine(); Console.Write(more); }
        if (UKan.Layers.SplitReduction.Chosen.Where(c => c.Value != UKan.Layers.ProductPlan.Single).ToList() is { Count: > 0 } plans)
            Console.WriteLine("KAN products not run as one cuBLAS product (M×K·K×N layout: plan): " +
                string.Join(", ", plans.OrderBy(c => c.Key.M * c.Key.N * c.Key.K).Select(c => $"{c.Key.M}×{c.Key.K}·{c.Key.K}×{c.Key.N} {c.Key.Layout}: {c.Value}")));
        if (jsonPath is not null)
        {
            AtomicFile.WriteAllText(jsonPath, UKan.IO.JsonFiles.Serialize(new { device, memoryMethod, results }));
            Console.WriteLine($"wrote {jsonPath}");
        }
    }
}
