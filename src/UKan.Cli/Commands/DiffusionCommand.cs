using System.CommandLine;
using Spectre.Console;
using TorchSharp;
using UKan.Data;
using UKan.Diffusion;
using UKan.Models.Diffusion;

namespace UKan.Cli.Commands;

/// <summary>
/// <c>ukan diffusion train|generate|eval</c>: Diffusion U-KAN, a DDPM whose noise predictor has U-KAN's tokenized KAN
/// bottleneck (ukan-spec §B), with the official recipe as defaults.
/// </summary>
static class DiffusionCommand
{
    public static Command Create()
    {
        var command = new Command("diffusion", "Diffusion U-KAN: train a 64x64 DDPM image generator on a folder of images, sample from it.");
        command.Subcommands.Add(Train());
        command.Subcommands.Add(Generate());
        command.Subcommands.Add(Eval());
        return command;
    }

    static Option<string?> ModelOption(string description)
    {
        var model = new Option<string?>("--model") { Description = description };
        model.AcceptOnlyFromAmong("ukan-hybrid", "umlp", "unet");
        return model;
    }

    static DiffusionArchitecture? ParseModel(string? name) =>
        name is null ? null : Enum.GetValues<DiffusionArchitecture>().First(a => DiffusionWeights.Name(a) == name);

    static Command Train()
    {
        var defaults = new DiffusionConfig { Data = "", Output = "" };
        var command = new Command("train", "Train a noise predictor on a folder of images (official Diffusion U-KAN recipe by default), or --resume a run.");
        var data = new Option<string?>("--data") { Description = "Folder of images (or a dataset folder with images/); masks are not used." };
        var dataset = new Option<string>("--dataset") { Description = "How images become 64x64: cvc (centre 288 crop), busi (centre 400 crop), glas (5 random 64 crops), generic (centre square).", DefaultValueFactory = _ => "generic" };
        dataset.AcceptOnlyFromAmong("cvc", "busi", "glas", "generic");
        var output = new Option<string?>("--out") { Description = "Run folder to create (default: runs/diffusion-<data>-<model>-<time>)." };
        var resume = new Option<string?>("--resume") { Description = "Continue the run in this folder from its last checkpoint." };
        var model = ModelOption("Noise predictor: ukan-hybrid (Diffusion U-KAN, default), umlp (its MLP ablation) or unet (the DDPM U-Net).");
        var epochs = new Option<int?>("--epochs") { Description = $"Epochs (default {defaults.Epochs}; with --resume: extend the schedule)." };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => defaults.Batch };
        var lr = new Option<double>("--lr") { Description = "AdamW learning rate (warmed up to 2x over the first tenth of the epochs, then cosine to 0).", DefaultValueFactory = _ => defaults.Lr };
        var loss = new Option<string>("--loss") { Description = "official (sum of squared errors / 1000, the reference) or mean (mean squared error).", DefaultValueFactory = _ => defaults.Loss };
        loss.AcceptOnlyFromAmong("official", "mean");
        var sampleEvery = new Option<int>("--sample-every") { Description = "Write weights and a sample grid every N epochs (and at the end).", DefaultValueFactory = _ => defaults.SampleEvery };
        var sampleCount = new Option<int>("--sample-count") { Description = "Images in each sample grid.", DefaultValueFactory = _ => defaults.SampleCount };
        var sampleSteps = new Option<int>("--sample-ddim-steps") { Description = "DDIM steps for the sample grids.", DefaultValueFactory = _ => defaults.SampleDdimSteps };
        var seed = new Option<long>("--seed") { Description = "Initialisation, shuffling and sampling seed.", DefaultValueFactory = _ => defaults.Seed };
        foreach (var o in new Option[] { data, dataset, output, resume, model, epochs, batch, lr, loss, sampleEvery, sampleCount, sampleSteps, seed })
            command.Options.Add(o);

        command.SetAction(parsed =>
        {
            CommandLine.StartTorch(parsed);
            using var cancel = CommandLine.StopOnCtrlC("epoch");
            var progress = new ConsoleProgress();
            DiffusionResult result;
            if (parsed.GetValue(resume) is string runDir)
            {
                if (parsed.GetValue(data) is not null) throw new UserError("--resume continues a run with its own data and settings; do not pass --data with it.");
                result = progress.Run(p => DiffusionTrainer.Resume(runDir, parsed.GetValue(epochs), p, cancel.Token));
            }
            else
            {
                var dataDir = parsed.GetValue(data) ?? throw new UserError("--data is required (or --resume RUN to continue a run).");
                var arch = ParseModel(parsed.GetValue(model)) ?? DiffusionArchitecture.UKanHybrid;
                var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDir)));
                var config = defaults with
                {
                    Data = dataDir,
                    Output = parsed.GetValue(output) ?? Path.Combine("runs", $"diffusion-{name}-{DiffusionWeights.Name(arch)}-{DateTime.Now:yyyyMMdd-HHmmss}"),
                    Dataset = Enum.Parse<DiffusionDataset>(parsed.GetValue(dataset)!, ignoreCase: true),
                    Model = arch,
                    Epochs = parsed.GetValue(epochs) ?? defaults.Epochs,
                    Batch = parsed.GetValue(batch), Lr = parsed.GetValue(lr), Loss = parsed.GetValue(loss)!,
                    SampleEvery = parsed.GetValue(sampleEvery), SampleCount = parsed.GetValue(sampleCount),
                    SampleDdimSteps = parsed.GetValue(sampleSteps), Seed = parsed.GetValue(seed),
                };
                result = progress.Run(p => DiffusionTrainer.Start(config, p, cancel.Token));
            }
            Console.WriteLine(result.Stopped
                ? $"stopped after epoch {result.EpochsDone}; continue with: ukan diffusion train --resume {result.RunFolder}"
                : $"done: {result.EpochsDone} epochs, last loss {result.LastLoss:F4}; run folder {result.RunFolder} (model.safetensors, metrics.csv, samples/); " +
                  $"sample with: ukan diffusion generate --weights {result.RunFolder} --out <folder>");
            return result.Stopped ? 130 : 0;
        });
        return command;
    }

    static Command Generate()
    {
        var command = new Command("generate", "Sample images from trained diffusion weights (a run folder, model.safetensors, or an official Diffusion_UKAN ckpt_*.pt).");
        var weights = new Option<string>("--weights") { Description = "Run folder, weights file, or official .pt checkpoint.", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for the images (NNNNN.png) and grid.png.", Required = true };
        var model = ModelOption("Architecture of an official .pt checkpoint (default ukan-hybrid); our files record their own.");
        var count = new Option<int>("--count") { Description = "Number of images.", DefaultValueFactory = _ => 64 };
        var ddim = new Option<int?>("--ddim") { Description = "Sample with N DDIM steps (deterministic, fast) instead of the reference's 1000 ancestral steps." };
        var batch = new Option<int>("--batch") { Description = "Images sampled at once.", DefaultValueFactory = _ => 64 };
        var seed = new Option<long>("--seed") { Description = "Noise seed.", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { weights, output, model, count, ddim, batch, seed }) command.Options.Add(o);

        command.SetAction(parsed =>
        {
            int n = parsed.GetValue(count), b = parsed.GetValue(batch);
            if (n < 1) throw new UserError($"--count {n}: must be at least 1.");
            if (b < 1) throw new UserError($"--batch {b}: must be at least 1.");
            if (parsed.GetValue(ddim) is int s && (s < 1 || s > 1000)) throw new UserError($"--ddim {s}: must be between 1 and 1000.");
            var rt = CommandLine.StartTorch(parsed);
            var (net, arch) = DiffusionWeights.Load(parsed.GetValue(weights)!, ParseModel(parsed.GetValue(model)));
            net.to(rt.Device);
            var ddpm = new Ddpm();
            var steps = parsed.GetValue(ddim);
            var outDir = Path.GetFullPath(parsed.GetValue(output)!);
            Directory.CreateDirectory(outDir);
            Console.WriteLine($"sampling {n} images from {DiffusionWeights.Name(arch)} on {rt.Device} with {(steps is int k ? $"{ddpm.Evaluations(k)} DDIM steps" : $"{ddpm.Steps} ancestral steps")}");
            double total = Math.Ceiling((double)n / b) * ddpm.Evaluations(steps);
            List<Raster> images = [];
            var clock = System.Diagnostics.Stopwatch.StartNew();
            if (ConsoleProgress.Interactive)
                AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("denoising", maxValue: total);
                        images = Samples.Generate(net, ddpm, n, rt.Device, steps, parsed.GetValue(seed), b, () => task.Increment(1));
                    });
            else images = Samples.Generate(net, ddpm, n, rt.Device, steps, parsed.GetValue(seed), b);
            for (int i = 0; i < images.Count; i++) ImageFile.WritePng(Path.Combine(outDir, $"{i:D5}.png"), images[i]);
            ImageFile.WritePng(Path.Combine(outDir, "grid.png"), Samples.Grid(images));
            Console.WriteLine($"wrote {images.Count} images and grid.png to {outDir} ({clock.Elapsed.TotalSeconds:F1} s)");
            return 0;
        });
        return command;
    }

    static Command Eval()
    {
        var command = new Command("eval", "FID and Inception Score of generated images against real ones (needs an Inception v3 network; see the message).");
        var real = new Option<string>("--real") { Description = "Folder of real images.", Required = true };
        var generated = new Option<string>("--generated") { Description = "Folder of generated images.", Required = true };
        command.Options.Add(real);
        command.Options.Add(generated);
        command.SetAction(parsed => RefuseEval(parsed, real, generated));
        return command;
    }

    static int RefuseEval(ParseResult parsed, Option<string> real, Option<string> generated)
    {
        foreach (var dir in new[] { parsed.GetValue(real)!, parsed.GetValue(generated)! })
            if (!Directory.Exists(dir)) throw new UserError($"{dir}: folder not found.");
        // The arithmetic (Fréchet distance, IS from class probabilities) is implemented and tested in GenerativeMetrics;
        // what is missing is the network whose features both are defined on.
        throw new UserError("FID and IS are defined on the features of the pytorch-fid Inception v3 (pt_inception-2015-12-05), which is not bundled " +
            "and cannot be downloaded here; score the generated folder with `python -m pytorch_fid REAL GENERATED` (FID) and torch-fidelity (IS) for numbers comparable with the paper.");
    }
}
