namespace UKan.Training.Distributed;

/// <summary>
/// A run's global batch (per-device batch × devices) kept when it continues on another number of devices, so that
/// its data order, steps per epoch and learning-rate semantics continue unchanged.
/// </summary>
public static class GlobalBatch
{
    /// <summary>The per-device batch on <paramref name="newDevices"/> devices; the global batch must divide.</summary>
    public static int PerDevice(int batch, int devices, int newDevices)
    {
        int global = batch * devices;
        if (newDevices < 1 || global % newDevices != 0)
            throw new UserError($"this run's global batch is {global} ({devices} device(s) × batch {batch}); it cannot be split over {newDevices} devices: resume on a number of devices that divides {global}.");
        return global / newDevices;
    }
}
