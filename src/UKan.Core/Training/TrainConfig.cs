using System.Text.Json;
using UKan.Data;
using UKan.IO;
using UKan.Models;

namespace UKan.Training;

/// <summary>
/// Everything a segmentation training run needs, with the official U-KAN defaults (Seg_UKAN/train.py of
/// CUHK-AIM-Group/U-KAN @ b20bf63). Written resolved to config.json in every run folder.
/// </summary>
/// <remarks>
/// Only <see cref="Data"/> and <see cref="Output"/> are required; <c>ukan train</c> maps its options one to one onto
/// these properties. <see cref="Validate"/> (called by <see cref="Trainer.Start"/>) refuses impossible values.
/// </remarks>
public sealed record TrainConfig
{
    /// <summary>The dataset folder: <c>images/</c> and <c>masks/0/</c> with matching file names (<c>ukan data prepare</c>).</summary>
    public required string Data { get; init; }
    /// <summary>The run folder to create; it must not exist or be empty (a new run never replaces files).</summary>
    public required string Output { get; init; }
    /// <summary>The network to train; the default is Seg U-KAN with the paper's embed dims (<see cref="ModelPresets"/>).</summary>
    public ModelSpec Model { get; init; } = new();
    /// <summary>400 epochs, batch 8, as the reference.</summary>
    public int Epochs { get; init; } = 400;
    /// <summary>Images per training step; incomplete last batches are dropped, as the reference's drop_last.</summary>
    public int Batch { get; init; } = 8;
    /// <summary>Training resolution (256 for BUSI and CVC-ClinicDB, 512 for GlaS in the paper).</summary>
    public int Height { get; init; } = 256;
    /// <summary>Training width; height and width are multiples of 32 (the network downsamples five times).</summary>
    public int Width { get; init; } = 256;
    /// <summary>Adam, lr 1e-4 / weight decay 1e-4; KAN weights (names with "layer" and "fc") lr 1e-2 / 1e-4.</summary>
    public double Lr { get; init; } = 1e-4;
    /// <summary>Weight decay of the non-KAN parameters.</summary>
    public double WeightDecay { get; init; } = 1e-4;
    /// <summary>Learning rate of the KAN layers' parameters.</summary>
    public double KanLr { get; init; } = 1e-2;
    /// <summary>Weight decay of the KAN layers' parameters.</summary>
    public double KanWeightDecay { get; init; } = 1e-4;
    /// <summary>CosineAnnealingLR over the epochs down to 1e-5, stepped once per epoch.</summary>
    public double MinLr { get; init; } = 1e-5;
    /// <summary>The split seed (the paper averages 2981, 6142 and 1187).</summary>
    public long DataSeed { get; init; } = 2981;
    /// <summary>Seeds model initialisation (the reference fixes torch's seed at 1029).</summary>
    public long TorchSeed { get; init; } = 1029;
    /// <summary>Share of the images held out for validation (0.2, as the reference's train_test_split).</summary>
    public double ValidationFraction { get; init; } = 0.2;
    /// <summary>How images become inputs; <see cref="PreprocessingPreset.Official"/> reproduces the reference exactly.</summary>
    public PreprocessingPreset Preprocessing { get; init; } = PreprocessingPreset.Official;
    /// <summary>A split.json to reuse instead of making one.</summary>
    public string? Split { get; init; }
    /// <summary>Stop after this many epochs without a better validation IoU (−1: never, as the reference).</summary>
    public int EarlyStopping { get; init; } = -1;
    /// <summary>Record the training step in a CUDA graph (GPU only, when the libtorch shim builds).</summary>
    public bool CudaGraphs { get; init; } = true;
    /// <summary>
    /// cuDNN algorithm autotuning (PyTorch's cudnn.benchmark, which the official train.py turns on). Off by default: on
    /// an H200 autotuning every convolution shape cost 3.5–4.5 s of the first epoch (first epoch 6.5–7.2 s with it,
    /// 2.5 s without) and the steady epoch was no faster with it (0.596 vs 0.582 s); docs/results.md §4. The choice of
    /// algorithm changes rounding only, not the computation.
    /// </summary>
    public bool CudnnAutotune { get; init; }
    /// <summary>
    /// Bit-reproducible training on one machine (<see cref="Determinism"/>): deterministic cuDNN algorithms and a
    /// deterministic backward of the decoder's bilinear upsampling. Off by default, as in PyTorch: the same seed then
    /// gives the same data, initialisation and augmentation, but not the same rounding.
    /// </summary>
    public bool Deterministic { get; init; }
    /// <summary>Numeric mode of the run: fp32 (PyTorch's default, TF32 convolutions) or bf16 autocast (CUDA only).</summary>
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>
    /// Convolution weights and input batches in channels_last (NHWC) layout: 1.4–1.5× faster training steps on an H100
    /// (docs/results.md). Set at creation (on for CUDA runs unless --layout nchw) and kept by --resume, because the
    /// optimizer state is stored in the layout's order. False in configs written before it existed.
    /// </summary>
    public bool ChannelsLast { get; init; }
    /// <summary>Validate every N epochs (1 = every epoch, as the reference).</summary>
    public int ValidateEvery { get; init; } = 1;
    /// <summary>Where batches are built: auto (on the GPU when the decoded data fit in 4 GiB), host or device.</summary>
    public DataPlacement DataPlacement { get; init; } = DataPlacement.Auto;
    /// <summary>
    /// Data-parallel workers (GPUs) the run trains on; <see cref="Batch"/> is per worker, as in PyTorch DDP, so the
    /// global batch of a step is Batch × Devices. 1 (one process) in configs written before it existed.
    /// </summary>
    public int Devices { get; init; } = 1;
    /// <summary>With several devices: batch norm with the statistics of the global batch (SyncBatchNorm) instead of each device's own.</summary>
    public bool SyncBatchNorm { get; init; }
    /// <summary>Number of validation samples shown in the overlay grid.</summary>
    public int OverlaySamples { get; init; } = 16;

    /// <summary>This configuration as config.json text (snake_case names, enums in kebab-case).</summary>
    public string ToJson() => JsonFiles.Serialize(this);

    /// <summary>A config from its JSON; keys in the camelCase or PascalCase of older versions are accepted too.</summary>
    public static TrainConfig FromJson(string json) =>
        JsonFiles.Deserialize<TrainConfig>(json) ?? throw new UserError("config.json is empty.");

    /// <summary>Reads a run's config.json; a damaged one (empty, cut short, edited wrongly) is a one-line error naming it.</summary>
    public static TrainConfig Load(string path)
    {
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UserError($"{path}: cannot be read ({e.Message})."); }
        try
        {
            return JsonFiles.Deserialize<TrainConfig>(text) is { Data: not null, Output: not null } config ? config
                : throw new UserError($"{path}: empty or without its settings; the run folder is damaged (restore config.json, or start a new run).");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            throw new UserError($"{path}: damaged ({e.Message.Split(". ")[0]}); restore it from a copy, or start a new run.");
        }
    }

    /// <summary>
    /// This config continued on <paramref name="devices"/> workers with the same global batch (Batch × Devices), so
    /// that the data order and the steps per epoch continue unchanged; the global batch must divide.
    /// </summary>
    public TrainConfig OnDevices(int devices)
    {
        if (devices == Devices) return this;
        return this with { Batch = UKan.Training.Distributed.GlobalBatch.PerDevice(Batch, Devices, devices), Devices = devices };
    }

    /// <summary>Checks option values a user can get wrong, with one-line messages.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new UserError($"--epochs {Epochs}: must be at least 1.");
        if (Batch < 1) throw new UserError($"--batch {Batch}: must be at least 1.");
        if (Model.NumClasses != 1 && Model.Loss == SegmentationLoss.BceDice)
            throw new UserError($"--classes {Model.NumClasses}: training scores one class with --loss bce-dice; for mutually exclusive classes " +
                                "use --loss ce-dice with label maps in labels/.");
        if (Devices < 1) throw new UserError($"devices {Devices}: must be at least 1.");
        if (Height <= 0 || Width <= 0 || Height % 32 != 0 || Width % 32 != 0 || Height > MaxSide || Width > MaxSide)
            throw new UserError($"--size {Height}x{Width}: U-KAN needs positive multiples of 32 up to {MaxSide} (e.g. 256).");
        // Written as !(inside) so that NaN, which fails every comparison, is refused too.
        foreach (var (name, v) in new[] { ("--lr", Lr), ("--kan-lr", KanLr) })
            if (!(v > 0) || double.IsInfinity(v)) throw new UserError($"{name} {v}: must be a positive number.");
        foreach (var (name, v) in new[] { ("--weight-decay", WeightDecay), ("--kan-weight-decay", KanWeightDecay), ("--min-lr", MinLr) })
            if (!(v >= 0) || double.IsInfinity(v)) throw new UserError($"{name} {v}: must be a finite number, zero or more.");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) throw new UserError($"--val-fraction {ValidationFraction}: must be between 0 and 1.");
        if (ValidateEvery < 1) throw new UserError($"--val-every {ValidateEvery}: must be at least 1.");
        if (EarlyStopping is 0 or < -1) throw new UserError($"--early-stopping {EarlyStopping}: give a number of epochs (1 or more), or -1 for never.");
        if (OverlaySamples < 0) throw new UserError($"overlay_samples {OverlaySamples}: must not be negative.");
    }

    /// <summary>The largest training side accepted: beyond it one image's activations exceed any GPU's memory.</summary>
    public const int MaxSide = 4096;
}
