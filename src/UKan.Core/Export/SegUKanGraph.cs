using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Export;

/// <summary>
/// Writes <see cref="SegUKan.forward"/> (Seg U-KAN, and ALL U-KAN, which is the same skeleton with KAonv / KA layers) as an
/// ONNX graph, walking the module tree by the official state-dict names (CUHK-AIM-Group/U-KAN <c>Seg_UKAN/archs.py</c>
/// @ b20bf63, class <c>UKAN</c>). The order of operations is the forward's, step for step; the ONNX parity tests compare
/// every model kind with TorchSharp, so a change of the forward that is not mirrored here fails them.
/// </summary>
/// <remarks>The tokenized stages are <see cref="OnnxTokens"/>'s, with U-KAN's blocks.</remarks>
public sealed class SegUKanGraph
{
    readonly OnnxGraphBuilder g;
    readonly SegUKan model;
    readonly bool relu;

    SegUKanGraph(OnnxGraphBuilder g, SegUKan model)
    {
        this.g = g;
        this.model = model;
        relu = model.UsesRelu;
    }

    /// <summary>Emits the network on <paramref name="input"/> (B, C_in, H, W) and returns the logits' value name.</summary>
    public static string Emit(OnnxGraphBuilder g, SegUKan model, string input) => new SegUKanGraph(g, model).Forward(input);

    string Forward(string x)
    {
        // Encoder: three conv stages, each followed by max-pool and ReLU.
        var t1 = Relu(OnnxLayers.MaxPool2(g, Stage("encoder1", x)));
        var t2 = Relu(OnnxLayers.MaxPool2(g, Stage("encoder2", t1)));
        var t3 = Relu(OnnxLayers.MaxPool2(g, Stage("encoder3", t2)));

        // Tokenized KAN stages at 1/16 and 1/32.
        var t4 = TokenStage("patch_embed3", "block1", "norm3", t3);
        var bottom = TokenStage("patch_embed4", "block2", "norm4", t4);

        // Decoder: upsample, add the skip; the first two stages also run the mirrored KAN blocks.
        var d = g.Add(Up("decoder1", bottom), t4);
        d = TokenBlocks("dblock1", "dnorm3", d);
        d = g.Add(Up("decoder2", d), t3);
        d = TokenBlocks("dblock2", "dnorm4", d);
        d = g.Add(Up("decoder3", d), t2);
        d = g.Add(Up("decoder4", d), t1);
        d = Up("decoder5", d);
        return OnnxLayers.Conv(g, Child(model, "final"), d, null, "final");
    }

    string Relu(string x) => relu ? g.Relu(x) : x;

    string Up(string decoder, string x) => Relu(OnnxLayers.Upsample2(g, Stage(decoder, x)));

    /// <summary>A DoubleConv: its Sequential conv.0 … conv.5 (conv, BN, ReLU or identity, twice), BN folded into the conv.</summary>
    string Stage(string name, string x) => OnnxLayers.Modules(g, Child(model, name), x, name);

    string TokenStage(string embedName, string blocksName, string normName, string map) =>
        OnnxTokens.Embedded(g, model, embedName, normName, map, (tokens, shape) => Blocks(blocksName, tokens, shape));

    string TokenBlocks(string blocksName, string normName, string map) =>
        OnnxTokens.InPlace(g, model, normName, map, (tokens, shape) => Blocks(blocksName, tokens, shape));

    /// <summary>Each KANBlock: x + KANLayer(LayerNorm(x)), KANLayer = fc1, dwconv_1, fc2, dwconv_2, fc3, dwconv_3.</summary>
    string Blocks(string blocksName, string tokens, string mapShape)
    {
        foreach (var (index, block) in Child(model, blocksName).named_children())
        {
            var prefix = $"{blocksName}.{index}";
            var layer = Child(block, "layer");
            var h = OnnxLayers.LayerNorm(g, (LayerNorm)Child(block, "norm2"), tokens, prefix + ".norm2");
            for (int i = 1; i <= 3; i++)
            {
                h = TokenLinear(Child(layer, $"fc{i}"), h, $"{prefix}.layer.fc{i}");
                h = DwBnRelu(Child(layer, $"dwconv_{i}"), h, mapShape, $"{prefix}.layer.dwconv_{i}");
            }
            tokens = g.Add(tokens, h);
        }
        return tokens;
    }

    string TokenLinear(nn.Module fc, string tokens, string name) => fc switch
    {
        KanLinear kan => OnnxKan.KanLinear(g, kan, tokens, 3, name),
        Linear linear => OnnxLayers.Linear(g, linear, tokens, name),
        KaLinear ka => OnnxKan.KaLinear(g, ka, tokens, name),
        _ => throw new UserError($"ONNX export: {name} is a {fc.GetType().Name}, which the exporter cannot write; export a ukan or allukan model."),
    };

    /// <summary>DW_bn_relu on tokens: view as the map, depthwise conv with BN folded, ReLU, back to tokens.</summary>
    string DwBnRelu(nn.Module unit, string tokens, string mapShape, string name)
    {
        var map = ToMap(tokens, mapShape);
        var y = OnnxLayers.Conv(g, Child(unit, "dwconv"), map, (BatchNorm2d)Child(unit, "bn"), name + ".dwconv");
        return ToTokens(relu ? g.Relu(y) : y);
    }

    string ToTokens(string map) => OnnxTokens.ToTokens(g, map);

    string ToMap(string tokens, string mapShape) => OnnxTokens.ToMap(g, tokens, mapShape);

    static nn.Module Child(nn.Module parent, string name) => OnnxLayers.Child(parent, name);
}
