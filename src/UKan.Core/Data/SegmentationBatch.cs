using static TorchSharp.torch;

namespace UKan.Data;

/// <summary>A batch ready for the network: (B, C, H, W) images and (B, classes, H, W) targets in CHW float32.</summary>
public sealed record SegmentationBatch(string[] Ids, float[] Images, float[] Targets, int Channels, int Classes, int Height, int Width)
{
    public int Count => Ids.Length;

    public (Tensor Images, Tensor Targets) ToTensors(Device device) =>
        (tensor(Images).reshape(Count, Channels, Height, Width).to(device),
         tensor(Targets).reshape(Count, Classes, Height, Width).to(device));
}
