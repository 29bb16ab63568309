namespace UKan.Data;

/// <summary>Where training batches are assembled and augmented.</summary>
public enum DataPlacement
{
    /// <summary>On the GPU when training runs there and the decoded dataset fits the budget of <see cref="DeviceDataset"/>; else on the host.</summary>
    Auto,
    /// <summary>On the host (parallel C#, the next batch prepared while the current one trains), copied to the device per batch.</summary>
    Host,
    /// <summary>Decoded once into device memory and augmented there (<see cref="DeviceDataset"/>), on any device.</summary>
    Device,
}
