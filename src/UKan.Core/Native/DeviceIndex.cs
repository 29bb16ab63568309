namespace UKan.Native;

/// <summary>The CUDA device ordinal of a torch device ("cuda" without an index means device 0 here).</summary>
public static class DeviceIndex
{
    public static int Of(TorchSharp.torch.Device device) => device.index < 0 ? 0 : device.index;
}
