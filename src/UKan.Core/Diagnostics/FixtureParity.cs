using TorchSharp;
using UKan.Training;
using UKan.Layers;
using UKan.Losses;
using static TorchSharp.torch;

namespace UKan.Diagnostics;

/// <summary>
/// The CPU parity tests' comparisons (tests/UKan.Tests/Parity) run on the compute device against the official
/// fixtures themselves: KANLinear's output and gradients under the fixture's stated loss on both evaluation paths
/// (the fast path with the fused CUDA kernels on a GPU), and Seg U-KAN's training-mode logits, BCE + Dice loss,
/// gradients and evaluation-mode logits, in strict fp32 and, on CUDA, with TF32 convolutions (PyTorch's default).
/// Bounds per precision are <see cref="DeviceParity"/>'s (relative norms).
/// </summary>
public static class FixtureParity
{
    public static IReadOnlyList<ParityCheck> Run(string folder, Device device)
    {
        var fixtures = ReferenceFixtures.In(folder).ToList();
        if (fixtures.Count == 0)
            throw new UserError($"no fixtures (NAME.json with NAME.safetensors) in '{folder}'; pass the folder of kan_linear.* and ukan_tiny.* (shared/fixtures/ukan-reference, or tests/fixtures/ukan-reference in the repository).");
        var checks = new List<ParityCheck>();
        foreach (var f in fixtures.Where(f => f.IsKanLinear)) checks.AddRange(KanLinearChecks(f, device));
        Precision[] precisions = device.type == DeviceType.CUDA ? [Precision.Fp32Strict, Precision.Fp32] : [Precision.Fp32Strict];
        foreach (var f in fixtures.Where(f => f.IsSegUKan))
            foreach (var precision in precisions)
                checks.AddRange(SegUKanChecks(f, precision, device));
        PrecisionSettings.Apply(Precision.Fp32);
        return checks;
    }

    static List<ParityCheck> KanLinearChecks(ReferenceFixtures.Fixture f, Device device)
    {
        PrecisionSettings.Apply(Precision.Fp32Strict);
        var t = f.ReadTensors();
        var checks = new List<ParityCheck>();
        var paths = new List<KanPath> { KanPath.General };
        if (ReferenceFixtures.LoadKanLinear(f, t, KanPath.Auto).UsesFastPath) paths.Add(KanPath.Fast);
        foreach (var path in paths)
        {
            using var scope = NewDisposeScope();
            var layer = ReferenceFixtures.LoadKanLinear(f, t, path);
            layer.to(device);
            // A copy: on the CPU .to(device) returns the fixture tensor itself, whose gradient would accumulate over paths.
            var x = t["x"].to(device).clone().requires_grad_(true);
            var y = layer.call(x);
            ReferenceFixtures.KanLinearLoss(f, layer, x, y).backward();
            var tag = $"{f.Name}, {path.ToString().ToLowerInvariant()} path";
            double bound = DeviceParity.OutputBound(Precision.Fp32Strict);
            checks.Add(DeviceParity.Compare($"{tag}: y", y, t["y"], bound));
            checks.Add(DeviceParity.Compare($"{tag}: grad x", x.grad!, t["grad.x"], bound));
            foreach (var (name, p) in layer.named_parameters())
                checks.Add(DeviceParity.Compare($"{tag}: grad {name}", p.grad!, t[$"grad.{name}"], bound));
        }
        return checks;
    }

    static List<ParityCheck> SegUKanChecks(ReferenceFixtures.Fixture f, Precision precision, Device device)
    {
        PrecisionSettings.Apply(precision);
        using var scope = NewDisposeScope();
        var t = f.ReadTensors();
        var x = t["x"].to(device);
        var tag = $"{f.Name}, {DeviceParity.Describe(precision)}";
        double output = DeviceParity.OutputBound(precision), gradient = DeviceParity.GradientBound(precision);
        var checks = new List<ParityCheck>();

        var model = ReferenceFixtures.LoadSegUKan(f, t);
        model.to(device);
        model.train();
        var y = model.call(x);
        checks.Add(DeviceParity.Compare($"{tag}: logits (train mode)", y, t["y_train"], output));
        var loss = new BceDiceLoss().call(y, t["target"].to(device));
        checks.Add(DeviceParity.Compare($"{tag}: BCE + Dice loss", loss.reshape(-1), t["loss"].reshape(-1), output));
        loss.backward();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (key, expected) in t.Where(kv => kv.Key.StartsWith("grad.")))
            checks.Add(DeviceParity.Compare($"{tag}: {key}", parameters[key["grad.".Length..]].grad!, expected, gradient));

        // A fresh copy: the training-mode pass above moved the running statistics.
        var evaluated = ReferenceFixtures.LoadSegUKan(f, t);
        evaluated.to(device);
        ReferenceFixtures.UndoRecordedTrainingPass(evaluated, x, t);
        evaluated.eval();
        using (no_grad())
            checks.Add(DeviceParity.Compare($"{tag}: logits (eval mode)", evaluated.call(x), t["y_eval"], output));
        return checks;
    }
}
