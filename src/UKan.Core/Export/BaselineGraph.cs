using TorchSharp;
using TorchSharp.Modules;
using UKan.Models;
using static TorchSharp.torch;
using A = UKan.Export.OnnxWire.Attribute;

namespace UKan.Export;

/// <summary>
/// Writes the forward passes of the convolutional baselines as ONNX graphs, walking their modules by state-dict name:
/// <see cref="UNet"/> (milesial/Pytorch-UNet), <see cref="AttUNet"/> (LeeJunHyun/Image_Segmentation's AttU_Net) and
/// <see cref="UNetPlusPlus"/> (4uiiurz1/pytorch-nested-unet's NestedUNet; with deep supervision its last head, the
/// output its forward gives) and <see cref="UNext"/> (jeya-maria-jose/UNeXt-pytorch). Each mirrors the model's forward step for step; the ONNX parity tests compare them with
/// TorchSharp, so a change of a forward that is not mirrored here fails them.
/// </summary>
public static class BaselineGraph
{
    /// <summary>Whether <paramref name="model"/> is a baseline this class writes.</summary>
    public static bool Covers(nn.Module model) => model is UNet or AttUNet or UNetPlusPlus or UNext;

    /// <summary>Input sides must be multiples of this: 16 for the convolutional U-Nets (four halvings), 32 for UNeXt (five).</summary>
    public static int SizeMultiple(nn.Module model) => model is UNext ? 32 : UNet.SizeMultiple;

    /// <summary>Emits the network on <paramref name="x"/> (B, C_in, H, W) and returns the logits' value name.</summary>
    public static string Emit(OnnxGraphBuilder g, nn.Module model, string x) => model switch
    {
        UNet unet => UNetForward(g, unet, x),
        AttUNet att => AttUNetForward(g, att, x),
        UNetPlusPlus nested => NestedForward(g, nested, x),
        UNext unext => UNextForward(g, unext, x),
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

    /// <summary>
    /// Encoder conv → BN → max-pool → ReLU three times, two tokenized stages of shifted-MLP blocks, the decoder
    /// (conv → BN → bilinear ×2 → ReLU, plus the skip; the first two also run blocks), and the 1×1 head.
    /// </summary>
    static string UNextForward(OnnxGraphBuilder g, UNext model, string x)
    {
        BatchNorm2d? Norm(string? name) => name is null ? null : (BatchNorm2d)Child(model, name);
        string Encoder(int i, string input) =>
            g.Relu(OnnxLayers.MaxPool2(g, OnnxLayers.Conv(g, Child(model, $"encoder{i}"), input, Norm($"ebn{i}"), $"encoder{i}")));
        string Up(int i, string input) =>
            g.Relu(OnnxLayers.Upsample2(g, OnnxLayers.Conv(g, Child(model, $"decoder{i}"), input, Norm(i < 5 ? $"dbn{i}" : null), $"decoder{i}")));
        OnnxTokens.Blocks Blocks(string name) => (tokens, shape) => ShiftedBlocks(g, Child(model, name), name, tokens, shape);

        var t1 = Encoder(1, x);
        var t2 = Encoder(2, t1);
        var t3 = Encoder(3, t2);
        var t4 = OnnxTokens.Embedded(g, model, "patch_embed3", "norm3", t3, Blocks("block1"));
        var bottom = OnnxTokens.Embedded(g, model, "patch_embed4", "norm4", t4, Blocks("block2"));
        var d = g.Add(Up(1, bottom), t4);
        d = OnnxTokens.InPlace(g, model, "dnorm3", d, Blocks("dblock1"));
        d = g.Add(Up(2, d), t3);
        d = OnnxTokens.InPlace(g, model, "dnorm4", d, Blocks("dblock2"));
        d = g.Add(Up(3, d), t2);
        d = g.Add(Up(4, d), t1);
        d = Up(5, d);
        return OnnxLayers.Conv(g, Child(model, "final"), d, null, "final");
    }

    /// <summary>
    /// Each shifted-MLP block: x + MLP(LayerNorm(x)), MLP = shift along H, fc1, depthwise 3×3 conv, GELU, shift along W,
    /// fc2 (<see cref="UKan.Layers.ShiftedMlp"/>).
    /// </summary>
    static string ShiftedBlocks(OnnxGraphBuilder g, nn.Module blocks, string name, string tokens, string mapShape)
    {
        foreach (var (index, block) in blocks.named_children())
        {
            var prefix = $"{name}.{index}";
            var mlp = Child(block, "mlp");
            var fc1 = (Linear)Child(mlp, "fc1");
            long channels = fc1.in_features;
            var h = OnnxLayers.LayerNorm(g, (LayerNorm)Child(block, "norm2"), tokens, prefix + ".norm2");
            h = OnnxLayers.Linear(g, fc1, Shifted(g, h, mapShape, channels, 2), prefix + ".mlp.fc1");
            var map = OnnxTokens.ToMap(g, h, mapShape);
            h = OnnxTokens.ToTokens(g, OnnxLayers.Conv(g, Child(Child(mlp, "dwconv"), "dwconv"), map, null, prefix + ".mlp.dwconv.dwconv"));
            h = OnnxLayers.Activation(g, UKan.Layers.BaseActivation.GELU, h);
            h = OnnxLayers.Linear(g, (Linear)Child(mlp, "fc2"), Shifted(g, h, mapShape, channels, 3), prefix + ".mlp.fc2");
            tokens = g.Add(tokens, h);
        }
        return tokens;
    }

    /// <summary>
    /// Tokens through <see cref="UKan.Layers.ShiftedMlp.Shift"/> on their map: the channels cut in groups of ⌈C/5⌉, group k
    /// moved by k − 2 pixels along <paramref name="dim"/> with zeros coming in (pad by 2, then slice).
    /// </summary>
    static string Shifted(OnnxGraphBuilder g, string tokens, string mapShape, long channels, int dim)
    {
        const int pad = UKan.Layers.ShiftedMlp.ShiftSize / 2;
        long group = (channels + UKan.Layers.ShiftedMlp.ShiftSize - 1) / UKan.Layers.ShiftedMlp.ShiftSize;
        var map = OnnxTokens.ToMap(g, tokens, mapShape);
        var shifted = new List<string>();
        int shift = -pad;
        for (long start = 0; start < channels; start += group, shift++)
        {
            var part = g.Slice(map, start, Math.Min(start + group, channels), 1);
            if (shift == 0) { shifted.Add(part); continue; }
            long[] pads = dim == 2 ? [0, 0, pad, 0, 0, 0, pad, 0] : [0, 0, 0, pad, 0, 0, 0, pad];
            var padded = g.Op("Pad", [part, g.Ints(pads)], A.Text("mode", "constant"));
            // output[i] = padded[i + pad − shift] for i in [0, size): from pad − shift to (padded length) − (pad + shift).
            shifted.Add(g.Slice(padded, pad - shift, pad + shift == 0 ? long.MaxValue : -(pad + shift), dim));
        }
        return OnnxTokens.ToTokens(g, shifted.Count == 1 ? shifted[0] : OnnxLayers.ConcatChannels(g, [.. shifted]));
    }
}
