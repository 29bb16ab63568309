using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The fused weights of a model's KANLinears built together for one forward pass: on CUDA one launch assembles all of
/// them and, in training, one launch splits all their gradients (a U-KAN's twelve layers took 24 launches a step, about
/// 0.12 ms of a profiled 256² step on an H200; docs/gpu.md). Each layer's forward takes its weight from the batch
/// (<see cref="KanLinear.FusedWeight"/>) until the batch is disposed. The values are those of the layer-by-layer
/// kernels (the same arithmetic per element); the one autograd node hands each parameter its gradient as before.
/// </summary>
/// <remarks>
/// Off (null from <see cref="Assemble(IReadOnlyList{KanLinear})"/>) on the CPU, where the torch formulation runs layer by layer anyway, with
/// fewer than two layers taking the fused weight, and with <see cref="EnvironmentVariable"/>=off (a comparison). The layers
/// hold the batch's weights while it is open, so one model's forward must not run on two threads at once (the library's
/// <c>Segmenter</c> serialises its predictions; training runs one forward at a time).
/// </remarks>
public sealed class KanWeightBatch : IDisposable
{
    /// <summary>Set to <c>off</c> to assemble each KANLinear's weight in its own launches (a comparison).</summary>
    public const string EnvironmentVariable = "UKAN_BATCHED_KAN_WEIGHT";

    static readonly FusedSwitch Switch = new(EnvironmentVariable);

    readonly KanLinear[] layers;
    readonly Tensor[] weights;

    KanWeightBatch(KanLinear[] layers, Tensor[] weights)
    {
        (this.layers, this.weights) = (layers, weights);
        for (int i = 0; i < layers.Length; i++) layers[i].UseAssembledWeight(weights[i]);
    }

    /// <summary>How many layers took their weight from this batch.</summary>
    public int Count => layers.Length;

    /// <summary>
    /// The fused weights of those of <paramref name="layers"/> whose forward contracts one (the fast path), built in one
    /// launch per <see cref="KanWeight.MaxLayers"/> layers; null where batching does not apply (see the remarks).
    /// </summary>
    public static KanWeightBatch? Assemble(IReadOnlyList<KanLinear> layers)
    {
        var taking = layers.Where(l => l.UsesFastPath).ToArray();
        if (taking.Length < 2 || !Switch.Applies(taking[0].SplineWeight)) return null;
        var chunks = Chunks(taking);
        var kernels = chunks.Select(KanWeight.KernelsFor).ToArray();
        if (kernels.Any(k => k is null)) return null;
        return new(taking, [.. chunks.SelectMany((c, i) => KanWeight.FuseAll(c, kernels[i]!))]);
    }

    /// <summary>Every one of <paramref name="layers"/> from <paramref name="kernels"/>, whatever the device (tests: the torch formulation on the CPU).</summary>
    internal static KanWeightBatch Assemble(IReadOnlyList<KanLinear> layers, IKanWeightKernels kernels) =>
        new([.. layers], [.. Chunks(layers).SelectMany(c => KanWeight.FuseAll(c, kernels))]);

    static KanWeightParts[][] Chunks(IEnumerable<KanLinear> layers) =>
        [.. layers.Chunk(KanWeight.MaxLayers).Select(c => c.Select(l => l.WeightParts).ToArray())];

    /// <summary><paramref name="body"/>'s result with batching on or off for the calling flow, whatever the environment says.</summary>
    internal static T With<T>(bool on, Func<T> body) => Switch.With(on, body);

    public void Dispose()
    {
        foreach (var layer in layers) layer.UseAssembledWeight(null);
        foreach (var w in weights) w.Dispose();
    }
}
