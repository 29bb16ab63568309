namespace UKan.Native;

/// <summary>
/// Runs torch's work on a side stream until disposed (CUDA graphs cannot capture the default stream). Enter it before
/// the first forward pass of a model that will be captured: autograd binds each parameter's gradient accumulator to
/// the stream of its first backward pass, and one bound to the default stream breaks a later capture.
/// </summary>
public sealed class SideStreamScope : IDisposable
{
    readonly int device;
    bool active;

    public SideStreamScope(int device)
    {
        this.device = device;
        TorchCudaShim.EnterSideStream(device);
        active = true;
    }

    public void Dispose()
    {
        if (active) { TorchCudaShim.ExitSideStream(device); active = false; }
    }
}
