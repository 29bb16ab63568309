using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// The on/off of one fused CUDA path (batch norm + ReLU, KANLinear's weight, relu(×2 upsampling), the Adam step): on
/// unless its environment variable says off (<see cref="EnvironmentSwitch"/>), and forced either way for one calling flow
/// (<see cref="With"/>: the selftest and the tests compare both in one process).
/// </summary>
internal sealed class FusedSwitch(string environmentVariable)
{
    readonly FlowOverride forced = new();

    /// <summary>Whether the path is on for the calling flow.</summary>
    public bool On => forced.Value ?? !EnvironmentSwitch.IsOffIn(environmentVariable);

    /// <summary><paramref name="body"/>'s result with the calling flow's path on or off, whatever the environment says.</summary>
    public T With<T>(bool on, Func<T> body) => forced.With(on, body);

    /// <summary>
    /// Whether the path may run for <paramref name="t"/>: it is on, fused kernels are allowed
    /// (<see cref="KanFeatures.UseFusedKernels"/>) and <paramref name="t"/> is on CUDA. Checked before the (costlier)
    /// test of whether the kernels take the tensors, which then ask for <see cref="Kernels"/>.
    /// </summary>
    public bool Applies(Tensor t) => On && KanFeatures.UseFusedKernels && t.device_type == DeviceType.CUDA;

    /// <summary>The fused kernels of <paramref name="t"/>'s device, or null when they could not be built.</summary>
    public static IFusedCudaKernels? Kernels(Tensor t) => KanFeatures.CudaKernels(t.device_index < 0 ? 0 : t.device_index);
}
