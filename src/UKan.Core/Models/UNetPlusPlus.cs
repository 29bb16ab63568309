using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Models;

/// <summary>
/// U-Net++: "UNet++: A Nested U-Net Architecture for Medical Image Segmentation", Zhou et al., DLMIA 2018
/// (arXiv 1807.10165), as class <c>NestedUNet</c> of 4uiiurz1/pytorch-nested-unet <c>archs.py</c>
/// @ 4e36fddc88fde41a72af9c73beb6998141f821e6 (the code UNeXt's and U-KAN's training scripts descend from), without deep
/// supervision by default: 9,163,329 parameters for 3 inputs and 1 class, U-KAN's Table 1's 9.16 M; with it
/// (<see cref="ConvUNetOptions.DeepSupervision"/>) three heads more, 9,163,428.
/// </summary>
/// <remarks>
/// Nodes X(i, j) at depth i (widths 32-64-128-256-512, max-pool between depths) and column j: X(i, 0) is the encoder;
/// X(i, j) = double conv of [X(i, 0), …, X(i, j−1), up(X(i+1, j−1))] with bilinear ×2 upsampling (align_corners=True);
/// a 1×1 conv on X(0, 4) gives logits. Departures from the reference:
/// <list type="bullet">
/// <item>Each node is <see cref="DoubleConv"/> (keys <c>conv0_1.conv.0</c>, <c>.conv.1</c>, <c>.conv.3</c>, <c>.conv.4</c>)
/// where the reference's VGGBlock names the same layers <c>conv1</c>, <c>bn1</c>, <c>conv2</c>, <c>bn2</c>.</item>
/// <item>Deep supervision is off by default (as U-KAN's script, <c>--deep_supervision False</c>): one head <c>final</c> on
/// X(0, 4). With it on, the reference's four heads <c>final1</c>..<c>final4</c> on X(0, 1)..X(0, 4) and no <c>final</c>;
/// where the reference's forward returns the list of the four outputs, ours returns the last one (what its validation
/// and inference use) and gives all four through <see cref="IDeepSupervision.Outputs"/> to the training loss.</item>
/// <item>The width is an option (<see cref="ConvUNetOptions"/>; 32 by default); inputs must be multiples of 16.</item>
/// <item>Training runs each convolution that feeds a BatchNorm2d without its bias (<see cref="ConvBatchNorm"/>, docs/models.md):
/// the same function, but those biases get no gradient instead of rounding noise; on CUDA by default (<c>UKAN_BIAS_BEFORE_BN=official</c> adds them; <c>=dropped</c> also on the CPU).</item>
/// </list>
/// </remarks>
public sealed class UNetPlusPlus : nn.Module<Tensor, Tensor>, ISegmentationModel, IDeepSupervision
{
    const int Depth = 5;
    // nodes[i][j] = X(i, j), registered as conv{i}_{j}.
    private readonly DoubleConv[][] nodes;
    // The 1×1 heads: heads[j − 1] on X(0, j); only the last (final) without deep supervision, all four (final1..final4) with it.
    private readonly Conv2d?[] heads = new Conv2d?[Depth - 1];

    public ModelSpec Spec { get; }
    public bool DeepSupervision { get; }

    public UNetPlusPlus(ModelSpec spec) : base(nameof(UNetPlusPlus))
    {
        Spec = spec;
        int w = ConvUNetOptions.WidthOf(spec);
        int Width(int depth) => w << depth;
        nodes = new DoubleConv[Depth][];
        for (int i = 0; i < Depth; i++)
        {
            nodes[i] = new DoubleConv[Depth - i];
            for (int j = 0; j < Depth - i; j++)
            {
                int input = j == 0 ? (i == 0 ? spec.InChannels : Width(i - 1)) : Width(i) * j + Width(i + 1);
                nodes[i][j] = DoubleConv.Encoder(input, Width(i));
            }
        }
        DeepSupervision = ConvUNetOptions.DeepSupervisionOf(spec);
        for (int j = DeepSupervision ? 1 : Depth - 1; j < Depth; j++) heads[j - 1] = nn.Conv2d(w, spec.NumClasses, 1, bias: true);
        // Registration order follows the reference's attribute order: the encoder column, then column by column, the heads.
        for (int i = 0; i < Depth; i++) register_module($"conv{i}_0", nodes[i][0]);
        for (int j = 1; j < Depth; j++)
            for (int i = 0; i < Depth - j; i++) register_module($"conv{i}_{j}", nodes[i][j]);
        if (DeepSupervision)
            for (int j = 1; j < Depth; j++) register_module($"final{j}", heads[j - 1]!);
        else register_module("final", heads[Depth - 2]!);
    }

    // Registered by name above (the nodes and heads live in arrays).
    protected override void RegisterComponents() { }

    /// <summary>The final output: the head on X(0, 4) (final, or final4 with deep supervision).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return heads[^1]!.call(TopRow(x)[^1]).MoveToOuterDisposeScope();
    }

    /// <summary>With deep supervision the four heads' outputs on X(0, 1)..X(0, 4) (the reference's list); else the one output.</summary>
    public IReadOnlyList<Tensor> Outputs(Tensor x)
    {
        if (!DeepSupervision) return [forward(x)];
        using var scope = NewDisposeScope();
        var top = TopRow(x);
        return top.Select((t, j) => heads[j]!.call(t).MoveToOuterDisposeScope()).ToList();
    }

    /// <summary>X(0, 1)..X(0, 4), in the caller's dispose scope.</summary>
    Tensor[] TopRow(Tensor x)
    {
        SegmentationInput.Require(x, UNet.SizeMultiple, "U-Net++");
        var outputs = new Tensor[Depth][];
        for (int i = 0; i < Depth; i++) outputs[i] = new Tensor[Depth - i];
        // The reference's order: each new encoder depth i, then the nodes it completes on the diagonal i + j = const.
        for (int k = 0; k < Depth; k++)
        {
            outputs[k][0] = nodes[k][0].call(k == 0 ? x : F.max_pool2d(outputs[k - 1][0], 2, 2));
            for (int j = 1; j <= k; j++)
            {
                int i = k - j;
                var inputs = outputs[i].Take(j).Append(Up(outputs[i + 1][j - 1])).ToArray();
                outputs[i][j] = nodes[i][j].call(cat(inputs, 1));
            }
        }
        return outputs[0][1..];
    }

    static Tensor Up(Tensor x) => F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Bilinear, align_corners: true);
}
