using System.CommandLine;
using Spectre.Console;
using TorchSharp;
using UKan.Data;
using UKan.Diffusion;
using UKan.Models.Diffusion;

namespace UKan.Cli.Commands;

/// <summary>
/// <c>ukan diffusion train|generate|eval</c>: Diffusion U-KAN, a DDPM whose noise predictor has U-KAN's tokenized KAN
/// bottleneck (CUHK-AIM-Group/U-KAN Diffusion_UKAN @ b20bf63; docs/diffusion.md), with the official recipe as defaults.
/// </summary>
static class DiffusionCommand
{
    public static Command Create()
    {
        var command = new Command("diffusion", "Diffusion U-KAN: train a 64x64 DDPM image generator on a folder of images, sample from it.");
        command.Subcommands.Add(Prepare());
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

    static Option<string> DatasetOption()
    {
        var dataset = new Option<string>("--dataset") { Description = "How images become 64x64: cvc (centre 288 crop), busi (centre 400 crop), glas (5 random 64 crops), generic (centre square).", DefaultValueFactory = _ => "generic" };
        dataset.AcceptOnlyFromAmong("cvc", "busi", "glas", "generic");
        return dataset;
    }

    static Command Prepare()
    {
        var command = new Command("prepare", "Write the 64x64 images training uses (the official images_64 folder), e.g. as FID's reference set.");
        var data = new Option<string>("--data") { Description = "Folder of images (or a dataset folder with images/).", Required = true };
        var dataset = DatasetOption();
        var output = new Option<string>("--out") { Description = "Folder to write the PNGs to.", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed of GlaS's random crops (training with the same --seed crops the same).", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { data, dataset, output, seed, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            var outDir = parsed.GetValue(output)!;
            var (imagesDir, sources) = ImageFile.ListImagesOf(parsed.GetValue(data)!, "--data");
            var outFull = UKan.IO.OutputGuard.CheckFolder(outDir, "--out", sources.Prepend(imagesDir));
            var prepared = new DiffusionData(parsed.GetValue(data)!, Enum.Parse<DiffusionDataset>(parsed.GetValue(dataset)!, ignoreCase: true), DiffusionTrainer.ImageSize, parsed.GetValue(seed));
            var names = prepared.Names.Select(n => n + ".png").ToList();
            // LockFolder checks the existing files (under the lock) before anything is written.
            using (UKan.IO.OutputGuard.LockFolder(outFull, outDir, "--out", names, parsed.GetValue(CommandLine.Overwrite)))
                prepared.Save(outDir);
            Console.WriteLine($"wrote {prepared.Count} images of {prepared.Size}x{prepared.Size} to {Path.GetFullPath(parsed.GetValue(output)!)}");
            return 0;
        });
        return command;
    }

    /// <summary>runs/diffusion-&lt;data&gt;-&lt;model&gt;-&lt;time&gt;: a new run's folder when --out is not given.</summary>
    static string DefaultOutput(string dataDir, DiffusionArchitecture arch) =>
        Path.Combine("runs", $"diffusion-{Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDir)))}-{DiffusionWeights.Name(arch)}-{DateTime.Now:yyyyMMdd-HHmmss}");

    static Command Train()
    {
        var defaults = new DiffusionConfig { Data = "", Output = "" };
        var command = new Command("train", "Train a noise predictor on a folder of images (official Diffusion U-KAN recipe by default), or --resume a run.");
        var data = new Option<string?>("--data") { Description = "Folder of images (or a dataset folder with images/); masks are not used." };
        var dataset = DatasetOption();
        var output = new Option<string?>("--out") { Description = "Run folder to create (default: runs/diffusion-<data>-<model>-<time>)." };
        var resume = SharedOptions.Resume();
        var model = ModelOption("Noise predictor: ukan-hybrid (Diffusion U-KAN, default), umlp (its MLP ablation) or unet (the DDPM U-Net).");
        var epochs = SharedOptions.Epochs(defaults.Epochs);
        var batch = SharedOptions.Batch(defaults.Batch);
        var lr = new Option<double>("--lr") { Description = "AdamW learning rate (warmed up to 2x over the first tenth of the epochs, then cosine to 0).", DefaultValueFactory = _ => defaults.Lr };
        var loss = new Option<string>("--loss") { Description = "official (sum of squared errors / 1000, the reference) or mean (mean squared error).", DefaultValueFactory = _ => defaults.Loss };
        loss.AcceptOnlyFromAmong("official", "mean");
        var sampleEvery = new Option<int>("--sample-every") { Description = "Write weights and a sample grid every N epochs (and at the end).", DefaultValueFactory = _ => defaults.SampleEvery };
        var sampleCount = new Option<int>("--sample-count") { Description = "Images in each sample grid.", DefaultValueFactory = _ => defaults.SampleCount };
        var sampleSteps = new Option<int>("--sample-ddim-steps") { Description = "DDIM steps for the sample grids.", DefaultValueFactory = _ => defaults.SampleDdimSteps };
        var seed = new Option<long>("--seed") { Description = "Initialisation, shuffling and sampling seed.", DefaultValueFactory = _ => defaults.Seed };
        var gpus = SharedOptions.Gpus();
        var devices = SharedOptions.Devices();
        var profileOption = SharedOptions.Profile();
        foreach (var o in new Option[]
                 { data, dataset, output, resume, model, epochs, batch, lr, loss, sampleEvery, sampleCount, sampleSteps, seed, gpus, devices, profileOption })
            command.Options.Add(o);

        command.SetAction(parsed =>
        {
            // Several devices: this process supervises one worker per device, each running this command line.
            if (DataParallelLaunch.SuperviseIfAsked(parsed, gpus, devices, () =>
                    parsed.GetValue(resume) is null && parsed.GetValue(output) is null && parsed.GetValue(data) is string d
                        ? ["--out", DefaultOutput(d, ParseModel(parsed.GetValue(model)) ?? DiffusionArchitecture.UKanHybrid)] : []) is int supervised)
                return supervised;
            var (profiling, profileSync) = SharedOptions.ProfileMode(parsed, profileOption);
            CommandLine.StartTorch(parsed);
            var (cancel, parallel) = DataParallelLaunch.Join("epoch");
            using var _cancel = cancel;
            using var _collectives = parallel?.Collectives;
            var progress = new ConsoleProgress();
            DiffusionResult result;
            if (parsed.GetValue(resume) is string runDir)
            {
                DiffusionConfig? run = null;
                var allowed = new HashSet<string> { "--resume", "--epochs", "--gpus", "--devices", "--profile" };
                ResumeConflicts.Refuse(parsed, command, runDir, allowed, name =>
                {
                    run ??= File.Exists(Path.Combine(runDir, "config.json")) ? DiffusionTrainer.LoadConfig(runDir) : null;
                    var inv = System.Globalization.CultureInfo.InvariantCulture;
                    return run is null ? null : name switch
                    {
                        "--data" => run.Data,
                        "--out" => run.Output,
                        "--dataset" => run.Dataset.ToString().ToLowerInvariant(),
                        "--model" => DiffusionWeights.Name(run.Model),
                        "--batch" => run.Batch.ToString(inv),
                        "--lr" => run.Lr.ToString(inv),
                        "--loss" => run.Loss,
                        "--sample-every" => run.SampleEvery.ToString(inv),
                        "--sample-count" => run.SampleCount.ToString(inv),
                        "--sample-ddim-steps" => run.SampleDdimSteps.ToString(inv),
                        "--seed" => run.Seed.ToString(inv),
                        _ => null,
                    };
                });
                SharedOptions.CheckResumeEpochs(parsed.GetValue(epochs));
                result = progress.Run(p => DiffusionTrainer.Resume(runDir, parsed.GetValue(epochs), p, cancel.Token, parallel, profileSync));
            }
            else
            {
                var dataDir = parsed.GetValue(data) ?? throw new UserError("--data is required (or --resume RUN to continue a run).");
                var arch = ParseModel(parsed.GetValue(model)) ?? DiffusionArchitecture.UKanHybrid;
                var config = defaults with
                {
                    Data = dataDir,
                    Output = parsed.GetValue(output) ?? DefaultOutput(dataDir, arch),
                    Dataset = Enum.Parse<DiffusionDataset>(parsed.GetValue(dataset)!, ignoreCase: true),
                    Model = arch,
                    Epochs = parsed.GetValue(epochs) ?? defaults.Epochs,
                    Batch = parsed.GetValue(batch),
                    Lr = parsed.GetValue(lr),
                    Loss = parsed.GetValue(loss)!,
                    SampleEvery = parsed.GetValue(sampleEvery),
                    SampleCount = parsed.GetValue(sampleCount),
                    SampleDdimSteps = parsed.GetValue(sampleSteps),
                    Seed = parsed.GetValue(seed),
                };
                result = progress.Run(p => DiffusionTrainer.Start(config, p, cancel.Token, parallel, profileSync));
            }
            // Rank 0 writes the run folder; the other workers' profiles are theirs alone.
            if (profiling && (parallel?.IsLeader ?? true) && result.Profile is { } profile)
                SharedOptions.WriteProfile(profile, result.RunFolder);
            Console.WriteLine(result.Stopped
                ? $"stopped after epoch {result.EpochsDone}; continue with: ukan diffusion train --resume {result.RunFolder}"
                : $"done: {result.EpochsDone} epochs, last loss {result.LastLoss:F4}; run folder {result.RunFolder} (model.safetensors, metrics.csv, samples/); " +
                  $"sample with: ukan diffusion generate --weights {result.RunFolder} --out <folder>");
            return result.Stopped ? 130 : 0;
        });
        return command;
    }

    /// <summary><c>ukan generate</c> at the top level: the same command as <c>ukan diffusion generate</c>.</summary>
    public static Command TopLevelGenerate() => Generate();

    static Command Generate()
    {
        var command = new Command("generate", "Sample images from trained diffusion weights (a run folder, model.safetensors, or an official Diffusion_UKAN ckpt_*.pt).");
        var weights = new Option<string>("--weights") { Description = "Run folder, weights file, or official .pt checkpoint.", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for the images (NNNNN.png) and grid.png (existing ones are replaced only with --overwrite).", Required = true };
        var model = ModelOption("Architecture of an official .pt checkpoint (default ukan-hybrid); our files record their own.");
        var count = new Option<int>("--count") { Description = "Number of images.", DefaultValueFactory = _ => 64 };
        var ddim = new Option<int?>("--ddim") { Description = "Sample with N DDIM steps (deterministic, fast) instead of the reference's 1000 ancestral steps." };
        var batch = SharedOptions.Batch(64, "Images sampled at once.");
        var seed = new Option<long>("--seed") { Description = "Noise seed.", DefaultValueFactory = _ => 0 };
        foreach (var o in new Option[] { weights, output, model, count, ddim, batch, seed, CommandLine.Overwrite }) command.Options.Add(o);

        command.SetAction(parsed =>
        {
            int n = parsed.GetValue(count), b = parsed.GetValue(batch);
            if (n is < 1 or > 100_000) throw new UserError($"--count {n}: must be between 1 and 100000.");
            if (b is < 1 or > 1024) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            if (parsed.GetValue(ddim) is int s && (s < 1 || s > 1000)) throw new UserError($"--ddim {s}: must be between 1 and 1000.");
            var weightsPath = parsed.GetValue(weights)!;
            var outDir = UKan.IO.OutputGuard.CheckFolder(parsed.GetValue(output)!, "--out", [weightsPath]);
            var names = Enumerable.Range(0, n).Select(i => $"{i:D5}.png").Append("grid.png").ToList();
            UKan.IO.OutputGuard.CheckExisting(outDir, names, "--out", parsed.GetValue(CommandLine.Overwrite));
            var rt = CommandLine.StartTorch(parsed);
            var (net, arch) = DiffusionWeights.Load(weightsPath, ParseModel(parsed.GetValue(model)), warning => Console.Error.WriteLine($"ukan: warning: {warning}"));
            net.to(rt.Device);
            var ddpm = new Ddpm();
            var steps = parsed.GetValue(ddim);
            using var outputLock = UKan.IO.OutputGuard.LockFolder(outDir, parsed.GetValue(output)!, "--out", names, parsed.GetValue(CommandLine.Overwrite));
            // Sampling with many steps takes long: Ctrl+C or SIGTERM stops it between two model evaluations, writing nothing.
            using var cancel = CommandLine.StopOnCtrlC("denoising step");
            Console.WriteLine($"sampling {n} images from {DiffusionWeights.Name(arch)} on {rt.Device} with {(steps is int k ? $"{ddpm.Evaluations(k)} DDIM steps" : $"{ddpm.Steps} ancestral steps")}");
            double total = Math.Ceiling((double)n / b) * ddpm.Evaluations(steps);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            int evaluated = 0;
            var images = ConsoleProgress.Bar("denoising", total, set =>
                Samples.Generate(net, ddpm, n, rt.Device, steps, parsed.GetValue(seed), b, () => { cancel.Token.ThrowIfCancellationRequested(); set(++evaluated); }));
            for (int i = 0; i < images.Count; i++) ImageFile.WritePng(Path.Combine(outDir, $"{i:D5}.png"), images[i]);
            ImageFile.WritePng(Path.Combine(outDir, "grid.png"), Samples.Grid(images));
            Console.WriteLine($"wrote {images.Count} images and grid.png to {outDir} ({clock.Elapsed.TotalSeconds:F1} s)");
            return 0;
        });
        return command;
    }

    static Command Eval()
    {
        var command = new Command("eval", "FID (against real images) and Inception Score of generated images, with the Inception weights pytorch-fid and torchvision publish.");
        var generated = new Option<string>("--generated") { Description = "Folder of generated images (e.g. from 'ukan diffusion generate').", Required = true };
        var real = new Option<string?>("--real") { Description = "Folder of real images for FID (the paper: the dataset's 64x64 training images)." };
        var fidWeights = new Option<string?>("--fid-weights") { Description = $"pytorch-fid's {InceptionMetrics.FidWeightsName} ({InceptionMetrics.FidWeightsUrl})." };
        var isWeights = new Option<string?>("--is-weights") { Description = $"torchvision's {InceptionMetrics.IsWeightsName} ({InceptionMetrics.IsWeightsUrl})." };
        var batch = SharedOptions.Batch(50, "Images per forward pass.");
        var output = new Option<string?>("--out") { Description = "Also write the scores to this JSON file (an existing one is replaced only with --overwrite)." };
        foreach (var o in new Option[] { generated, real, fidWeights, isWeights, batch, output, CommandLine.Overwrite }) command.Options.Add(o);
        command.SetAction(parsed =>
        {
            string? fid = parsed.GetValue(fidWeights), inception = parsed.GetValue(isWeights), realDir = parsed.GetValue(real);
            if (fid is null && inception is null)
                throw new UserError($"give --fid-weights {InceptionMetrics.FidWeightsName} (for FID) and/or --is-weights {InceptionMetrics.IsWeightsName} (for IS): " +
                    $"the Inception networks are not bundled; download them from {InceptionMetrics.FidWeightsUrl} and {InceptionMetrics.IsWeightsUrl}.");
            if (fid is not null && realDir is null) throw new UserError("--fid-weights needs --real DIR, the real images to compare with.");
            int b = parsed.GetValue(batch);
            if (b is < 1 or > 1024) throw new UserError($"--batch {b}: must be between 1 and 1024.");
            if (parsed.GetValue(output) is string jsonOut)
                UKan.IO.OutputGuard.CheckFile(jsonOut, "--out", parsed.GetValue(CommandLine.Overwrite), [fid, inception, parsed.GetValue(generated), realDir]);
            var genFiles = InceptionMetrics.ImageFiles(parsed.GetValue(generated)!, "--generated");
            var realFiles = realDir is null ? null : InceptionMetrics.ImageFiles(realDir, "--real");
            var rt = CommandLine.StartTorch(parsed);
            var scores = new Dictionary<string, double>();
            if (fid is not null)
            {
                var net = InceptionMetrics.Load(fid, Models.Inception.InceptionVariant.Fid, "--fid-weights");
                using var a = ConsoleProgress.Bar("FID features (real)", realFiles!.Count, p => InceptionMetrics.FidFeatures(net, realFiles, rt.Device, b, done => p(done)));
                using var g = ConsoleProgress.Bar("FID features (generated)", genFiles.Count, p => InceptionMetrics.FidFeatures(net, genFiles, rt.Device, b, done => p(done)));
                scores["fid"] = GenerativeMetrics.FrechetDistance(a, g);
                net.Dispose();
            }
            if (inception is not null)
            {
                var net = InceptionMetrics.Load(inception, Models.Inception.InceptionVariant.Torchvision, "--is-weights");
                using var probs = ConsoleProgress.Bar("IS predictions", genFiles.Count, p => InceptionMetrics.IsProbabilities(net, genFiles, rt.Device, b, done => p(done)));
                (scores["is_mean"], scores["is_std"]) = GenerativeMetrics.InceptionScore(probs, 10);
                net.Dispose();
            }
            Console.WriteLine($"{genFiles.Count} generated{(realFiles is null ? "" : $", {realFiles.Count} real")} images");
            if (scores.TryGetValue("fid", out var f)) Console.WriteLine($"FID  {f:F3}");
            if (scores.TryGetValue("is_mean", out var m)) Console.WriteLine($"IS   {m:F3} ± {scores["is_std"]:F3} (10 splits)");
            if (genFiles.Count < 2048) Console.WriteLine($"note: the paper scores 2,048 samples; with {genFiles.Count}, FID is biased upwards and not comparable with it.");
            if (parsed.GetValue(output) is string json)
                AtomicFile.WriteAllText(json, UKan.IO.JsonFiles.Serialize(scores));
            return 0;
        });
        return command;
    }
}
