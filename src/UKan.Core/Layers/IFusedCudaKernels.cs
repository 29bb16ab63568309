namespace UKan.Layers;

/// <summary>
/// The fused CUDA kernels of one device: KAN features, ψ, batch norm with ReLU, KANLinear's fused weight, relu(×2
/// upsampling), relu(2 × 2 max-pooling), the tokens' LayerNorm, inference's bias + ReLU after a folded convolution, 3 × 3 convolutions with few channels or depthwise, the
/// optimizer's Adam step, the BCE + Dice loss and the training step's running scores. Implemented outside the layers (UKan.Native compiles and loads them)
/// and handed in through <see cref="KanFeatures.CudaLoader"/>, so that the layers never call native code.
/// </summary>
public interface IFusedCudaKernels : IKanFeatureKernels, IPsiKernels, IBatchNormReluKernels, IKanWeightKernels, IUpsampleKernels,
    IMaxPoolKernels, ILayerNormKernels, IBiasReluKernels, IConv3x3Kernels, UKan.Training.IAdamKernels, UKan.Losses.IBceDiceKernels,
    UKan.Training.IStepScoreKernels, IKanProductKernels, IGpuTimer
{
    /// <summary>The device ordinal whose context the kernels are loaded into.</summary>
    int Device { get; }
    /// <summary>The GPU architecture compiled for, e.g. sm_90.</summary>
    string Architecture { get; }
}
