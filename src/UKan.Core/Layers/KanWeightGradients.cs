using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>dL/dW_b, dL/dW_s and dL/ds of one layer, each null where not asked for (or where there is no scaler).</summary>
public readonly record struct KanWeightGradients(Tensor? Base, Tensor? Spline, Tensor? Scaler);
