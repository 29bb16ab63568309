using System.CommandLine;
using UKan.Data;
using UKan.Training;

namespace UKan.Cli;

/// <summary>
/// The training recipe's options, shared by every command that trains segmentation models (train, cv), so that
/// their names, defaults (from <see cref="TrainConfig"/>, the one place they are set) and checks cannot drift apart.
/// What a command adds around the recipe (--data, --out, --resume, the split) it declares itself.
/// </summary>
sealed class TrainOptions
{
    static readonly TrainConfig Defaults = new() { Data = "", Output = "" };
    static readonly System.Globalization.CultureInfo Inv = System.Globalization.CultureInfo.InvariantCulture;

    public readonly ModelOptions Model = new();
    public readonly Option<int?> Epochs;
    public readonly Option<int> Batch = SharedOptions.Batch(Defaults.Batch);
    public readonly Option<string?> Size = SharedOptions.Size("Training size: N or HxW (multiples of 32; 256 for BUSI/CVC, 512 for GlaS).",
        Defaults.Height == Defaults.Width ? Defaults.Height.ToString(Inv) : $"{Defaults.Height}x{Defaults.Width}");
    public readonly Option<double> Lr = new("--lr") { Description = "Learning rate of all non-KAN weights.", DefaultValueFactory = _ => Defaults.Lr };
    public readonly Option<double> KanLr = new("--kan-lr") { Description = "Learning rate of the KAN weights (names with 'layer' and 'fc').", DefaultValueFactory = _ => Defaults.KanLr };
    public readonly Option<double> WeightDecay = new("--weight-decay") { Description = "Weight decay of non-KAN weights.", DefaultValueFactory = _ => Defaults.WeightDecay };
    public readonly Option<double> KanWeightDecay = new("--kan-weight-decay")
    {
        Description = "Weight decay of the KAN weights (L2, as the official Adam). With it the splines of U-KAN's KANLinear decay "
            + "to about zero; 0 keeps them (docs/results.md §6).",
        DefaultValueFactory = _ => Defaults.KanWeightDecay,
    };
    public readonly Option<double> MinLr = new("--min-lr") { Description = "Final learning rate of the cosine schedule.", DefaultValueFactory = _ => Defaults.MinLr };
    public readonly Option<long> DataSeed = new("--data-seed") { Description = "Split seed, also the seed of the data order and augmentation (the paper averages 2981, 6142, 1187).", DefaultValueFactory = _ => Defaults.DataSeed };
    public readonly Option<long> Seed = new("--seed") { Description = "Model initialisation seed.", DefaultValueFactory = _ => Defaults.TorchSeed };
    public readonly Option<string> Preprocessing = new("--preprocessing") { Description = "official (the reference pipeline: BGR, double normalisation) or standard (RGB, one normalisation).", DefaultValueFactory = _ => Defaults.Preprocessing.ToString().ToLowerInvariant() };
    public readonly Option<int> EarlyStopping = new("--early-stopping") { Description = "Stop after N epochs without a better validation IoU (-1: never).", DefaultValueFactory = _ => Defaults.EarlyStopping };
    public readonly Option<int> ValidateEvery = new("--val-every") { Description = "Validate every N epochs.", DefaultValueFactory = _ => Defaults.ValidateEvery };
    public readonly Option<string> Graphs = SharedOptions.Graphs();
    public readonly Option<string> Precision = SharedOptions.Precision(acceptOnly: true, "fp32", "tf32", "fp32-strict", "bf16");
    public readonly Option<string> Layout = SharedOptions.Layout();
    public readonly Option<bool> CudnnAutotune = new("--cudnn-autotune")
    {
        Description = "Time cuDNN's convolution algorithms for each shape (cudnn.benchmark, as the official train.py). "
            + "Off by default: cuDNN's heuristics start about 4 s sooner and were as fast per epoch on an H200.",
    };
    public readonly Option<bool> Deterministic = new("--deterministic")
    {
        Description = "Bit-reproducible training: deterministic cuDNN algorithms and upsampling backward (same losses when run again on the same machine; it may be slower: cuDNN then uses only its deterministic algorithms).",
    };
    public readonly Option<string> Placement = new("--data-placement") { Description = "Where batches are built and augmented: auto (on the GPU when the decoded data fit in 4 GiB), host, device.", DefaultValueFactory = _ => Defaults.DataPlacement.ToString().ToLowerInvariant() };

    /// <param name="resumable">Whether the command has --resume (the help of --epochs says what it does then).</param>
    public TrainOptions(bool resumable)
    {
        Epochs = SharedOptions.Epochs(Defaults.Epochs, resumable);
        Preprocessing.AcceptOnlyFromAmong("official", "standard");
        Placement.AcceptOnlyFromAmong("auto", "host", "device");
    }

    public void AddTo(Command command)
    {
        Model.AddTo(command);
        foreach (var o in new Option[] { Epochs, Batch, Size, Lr, KanLr, WeightDecay, KanWeightDecay, MinLr, DataSeed, Seed, Preprocessing, EarlyStopping, ValidateEvery, Graphs, CudnnAutotune, Deterministic, Precision, Layout, Placement })
            command.Options.Add(o);
    }

    /// <summary>The recipe as given (defaults from <see cref="TrainConfig"/>), for <paramref name="data"/> and <paramref name="output"/>; checks what needs the device.</summary>
    public TrainConfig Resolve(ParseResult parsed, string data, string output, TorchSharp.torch.Device device)
    {
        var spec = Model.Resolve(parsed);
        var (h, w) = SharedOptions.ParseSize(parsed.GetValue(Size)!);
        var graphsMode = parsed.GetValue(Graphs);
        var precision = parsed.GetValue(Precision)!;
        if (precision != "fp32" && device.type != TorchSharp.DeviceType.CUDA)
            throw new UserError($"--precision {precision} is for CUDA devices; on {device} use --precision fp32.");
        SharedOptions.CheckGraphs(graphsMode);
        return new TrainConfig
        {
            Data = Path.GetFullPath(data),
            Output = Path.GetFullPath(output),
            Model = spec,
            Epochs = parsed.GetValue(Epochs) ?? Defaults.Epochs,
            Batch = parsed.GetValue(Batch),
            Height = h,
            Width = w,
            Lr = parsed.GetValue(Lr),
            KanLr = parsed.GetValue(KanLr),
            WeightDecay = parsed.GetValue(WeightDecay),
            KanWeightDecay = parsed.GetValue(KanWeightDecay),
            MinLr = parsed.GetValue(MinLr),
            DataSeed = parsed.GetValue(DataSeed),
            TorchSeed = parsed.GetValue(Seed),
            Preprocessing = UKan.Data.Preprocessing.Parse(parsed.GetValue(Preprocessing)!),
            EarlyStopping = parsed.GetValue(EarlyStopping),
            ValidateEvery = parsed.GetValue(ValidateEvery),
            CudaGraphs = graphsMode != "off",
            CudnnAutotune = parsed.GetValue(CudnnAutotune),
            Deterministic = parsed.GetValue(Deterministic),
            Precision = UKan.Training.PrecisionSettings.Parse(parsed.GetValue(Precision)!),
            ChannelsLast = SharedOptions.ChannelsLast(parsed.GetValue(Layout), device),
            DataPlacement = Enum.Parse<DataPlacement>(parsed.GetValue(Placement)!, ignoreCase: true),
        };
    }

    /// <summary>A run's setting as the option that sets it would spell it, for the --resume conflict message.</summary>
    public static string? RunValue(TrainConfig? c, string option)
    {
        if (c is null) return null;
        return option switch
        {
            "--data" => c.Data,
            "--out" => c.Output,
            "--model" => UKan.Models.ArchitectureNames.Name(c.Model.Architecture),
            "--preset" => c.Model.Preset ?? "custom",
            "--embed-dims" => string.Join(',', c.Model.EmbedDims),
            "--mlp" => c.Model.Mixer == UKan.Models.TokenMixer.Mlp ? "on" : "off",
            "--in-channels" => c.Model.InChannels.ToString(Inv),
            "--classes" => c.Model.NumClasses.ToString(Inv),
            "--loss" => UKan.Models.ModelSpec.LossName(c.Model.Loss),
            "--arch-options" => c.Model.ArchitectureOptions?.GetRawText() ?? "{}",
            "--batch" => c.Batch.ToString(Inv),
            "--size" => $"{c.Height}x{c.Width}",
            "--lr" => c.Lr.ToString(Inv),
            "--kan-lr" => c.KanLr.ToString(Inv),
            "--weight-decay" => c.WeightDecay.ToString(Inv),
            "--kan-weight-decay" => c.KanWeightDecay.ToString(Inv),
            "--min-lr" => c.MinLr.ToString(Inv),
            "--data-seed" => c.DataSeed.ToString(Inv),
            "--seed" => c.TorchSeed.ToString(Inv),
            "--preprocessing" => c.Preprocessing.ToString().ToLowerInvariant(),
            "--split" => c.Split ?? "(made from --data-seed)",
            "--val-fraction" => c.ValidationFraction.ToString(Inv),
            "--early-stopping" => c.EarlyStopping.ToString(Inv),
            "--val-every" => c.ValidateEvery.ToString(Inv),
            "--graphs" => c.CudaGraphs ? "auto" : "off",
            "--cudnn-autotune" => c.CudnnAutotune ? "on" : "off",
            "--deterministic" => c.Deterministic ? "on" : "off",
            "--sync-bn" => c.SyncBatchNorm ? "on" : "off",
            "--precision" => c.Precision.ToString().ToLowerInvariant(),
            "--layout" => c.ChannelsLast ? "channels-last" : "nchw",
            _ => null,
        };
    }
}
