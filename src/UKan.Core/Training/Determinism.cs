using UKan.Layers;
using UKan.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace UKan.Training;

/// <summary>
/// Bit-reproducible training (<c>ukan train --deterministic</c>): the same command on the same machine gives the same
/// losses, step by step. Three things vary between runs otherwise: cuDNN may pick algorithms that accumulate in a
/// run-dependent order, the CUDA backward of bilinear upsampling (U-KAN's decoder) accumulates with atomics, and the
/// KAN products' split along their reduction is chosen by timing (<see cref="SplitReduction"/>). The first is switched
/// to cuDNN's deterministic algorithms (and PyTorch's deterministic implementations where it has them), the second to
/// <see cref="BilinearUpsample"/>'s convolution, the third off (single products). Restricting cuDNN to its deterministic algorithms may
/// cost speed (not measured yet: the runs of docs/results.md §5 logged every step, which waits for the GPU); the
/// results are the same computation up to rounding. CPU runs are already deterministic apart
/// from the thread count; the upsampling's backward is switched there too, so that both devices run the same code.
/// </summary>
public static class Determinism
{
    /// <summary>Turns the deterministic mode on for <paramref name="device"/> until disposed (then back to the defaults).</summary>
    public static IDisposable Scope(bool on, Device device)
    {
        if (!on) return new Restore(null);
        bool cuda = device.type == DeviceType.CUDA && TorchCudaShim.Available;
        if (cuda) TorchCudaShim.SetDeterministic(true);
        BilinearUpsample.Deterministic = true;
        SplitReduction.Deterministic = true;
        return new Restore(() =>
        {
            BilinearUpsample.Deterministic = false;
            SplitReduction.Deterministic = false;
            if (cuda) TorchCudaShim.SetDeterministic(false);
        });
    }

    sealed class Restore(Action? undo) : IDisposable
    {
        Action? undo = undo;
        public void Dispose()
        {
            undo?.Invoke();
            undo = null;
        }
    }
}
