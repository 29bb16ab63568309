namespace UKan.Models;

/// <summary>A segmentation network: (B, C_in, H, W) → logits (B, classes, H, W), knowing how to rebuild itself.</summary>
public interface ISegmentationModel
{
    ModelSpec Spec { get; }
}
