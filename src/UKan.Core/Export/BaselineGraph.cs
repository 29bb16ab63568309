using TorchSharp;
using TorchSharp.Modules;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Export;

/// <summary>
/// Writes the forward passes of the convolutional baselines as ONNX graphs, walking their modules by state-dict name:
/// <see cref="UNet"/> (milesial/Pytorch-UNet), <see cref="AttUNet"/> (LeeJunHyun/Image_Segmentation's AttU_Net) and
/// <see cref="UNetPlusPlus"/> (4uiiurz1/pytorch-nested-unet's NestedUNet; with deep supervision its last head, the
/// output its forward gives). Each mirrors the model's forward step for step; the ONNX parity tests compare them with
/// TorchSharp, so a change of a forward that is not mirrored here fails them.
/// </summary>
public static class BaselineGraph
{
    /// <summary>Whether <paramref name="model"/> is a baseline this class writes.</summary>
    public static bool Covers(nn.Module model) => model is UNet or AttUNet or UNetPlusPlus;

    /// <summary>Emits the network on <paramref name="x"/> (B, C_in, H, W) and returns the logits' value name.</summary>
    public static string Emit(OnnxGraphBuilder g, nn.Module model, string x) => model switch
    {
        UNet unet => UNetForward(g, unet, x),
        AttUNet att => AttUNetForward(g, att, x),
        UNetPlusPlus nested => NestedForward(g, nested, x),
        _ => throw new ArgumentException($"not a convolutional baseline: {model.GetType().Name}", nameof(model)),
    };

    static nn.Module Child(nn.Module parent, string name) => OnnxLayers.Child(parent, name);

    /// <summary>inc, down1..4 (max-pool, double conv), up1..4 (2×2 transposed conv, cat [skip, up], double conv), outc.</summary>
    static string UNetForward(OnnxGraphBuilder g, UNet model, string x)
    {
        string Run(string name, string input) => OnnxLayers.Modules(g, Child(model, name), input, name);
        var skips = new List<string> { Run("inc", x) };
        for (int i = 1; i <= 4; i++) skips.Add(Run($"down{i}", skips[^1]));
        var d = skips[^1];
        for (int i = 1; i <= 4; i++)
        {
            var up = Child(model, $"up{i}");
            var upsampled = OnnxLayers.ConvTranspose(g, (ConvTranspose2d)Child(up, "up"), d, $"up{i}.up");
            d = OnnxLayers.Modules(g, Child(up, "conv"), OnnxLayers.ConcatChannels(g, skips[4 - i], upsampled), $"up{i}.conv");
        }
        return OnnxLayers.Modules(g, Child(model, "outc"), d, "outc");
    }

    /// <summary>Conv1..5 with max-pools between, then per depth: Up (nearest ×2, conv), the attention gate, cat [gated skip, up], Up_conv.</summary>
    static string AttUNetForward(OnnxGraphBuilder g, AttUNet model, string x)
    {
        string Run(string name, string input) => OnnxLayers.Modules(g, Child(model, name), input, name);
        var skips = new List<string> { Run("Conv1", x) };
        for (int i = 2; i <= 5; i++) skips.Add(Run($"Conv{i}", OnnxLayers.MaxPool2(g, skips[^1])));
        var d = skips[^1];
        for (int depth = 5; depth >= 2; depth--)
        {
            var up = OnnxLayers.Modules(g, Child(Child(model, $"Up{depth}"), "up"), d, $"Up{depth}.up");
            var gated = Gate(g, Child(model, $"Att{depth}"), up, skips[depth - 2], $"Att{depth}");
            d = Run($"Up_conv{depth}", OnnxLayers.ConcatChannels(g, gated, up));
        }
        return OnnxLayers.Modules(g, Child(model, "Conv_1x1"), d, "Conv_1x1");
    }

    /// <summary>The additive attention gate: x · ψ(ReLU(W_g·g + W_x·x)) (<see cref="UKan.Layers.AttentionGate"/>).</summary>
    static string Gate(OnnxGraphBuilder g, nn.Module gate, string gating, string skip, string name)
    {
        string Run(string child, string input) => OnnxLayers.Modules(g, Child(gate, child), input, $"{name}.{child}");
        var attention = Run("psi", g.Relu(g.Add(Run("W_g", gating), Run("W_x", skip))));
        return g.Mul(skip, attention);
    }

    /// <summary>
    /// The nested nodes X(i, j) = conv{i}_{j} in the forward's order (each encoder depth, then the diagonal it completes),
    /// X(i, j) of [X(i, 0..j−1), up(X(i+1, j−1))] with bilinear ×2 (align_corners), and the head on X(0, 4).
    /// </summary>
    static string NestedForward(OnnxGraphBuilder g, UNetPlusPlus model, string x)
    {
        const int depth = 5;
        var nodes = new string[depth][];
        for (int i = 0; i < depth; i++) nodes[i] = new string[depth - i];
        string Node(int i, int j, string input) => OnnxLayers.Modules(g, Child(model, $"conv{i}_{j}"), input, $"conv{i}_{j}");
        for (int k = 0; k < depth; k++)
        {
            nodes[k][0] = Node(k, 0, k == 0 ? x : OnnxLayers.MaxPool2(g, nodes[k - 1][0]));
            for (int j = 1; j <= k; j++)
            {
                int i = k - j;
                var inputs = nodes[i].Take(j).Append(OnnxLayers.Upsample2AlignCorners(g, nodes[i + 1][j - 1])).ToArray();
                nodes[i][j] = Node(i, j, OnnxLayers.ConcatChannels(g, inputs));
            }
        }
        var head = model.DeepSupervision ? $"final{depth - 1}" : "final";
        return OnnxLayers.Modules(g, Child(model, head), nodes[0][depth - 1], head);
    }
}
