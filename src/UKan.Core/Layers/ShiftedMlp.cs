using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// UNeXt's tokenized MLP (Valanarasu and Patel, MICCAI 2022, §2.2, Eq. 1-4; <c>shiftmlp</c> of
/// jeya-maria-jose/UNeXt-pytorch <c>archs.py</c>): shift the channel groups along the height, fc1, depthwise 3×3 conv,
/// GELU, shift along the width, fc2. This is not U-KAN's MLP ablation, which keeps U-KAN's layer (three FCs, each followed
/// by depthwise conv → BN → ReLU) and only swaps KANLinear for nn.Linear.
/// </summary>
/// <remarks>
/// The shift: the channels are cut into <see cref="ShiftSize"/> groups as <c>torch.chunk</c> cuts them (⌈C/5⌉ each, the
/// last one smaller, fewer groups when C &lt; 5) and group i moves by i − 2 pixels, zeros entering. The reference pads by
/// 2, rolls and crops, which is the same; here each group is padded on one axis and sliced (plain Pad/Slice/Concat for
/// ONNX). Keys as the reference: <c>fc1</c>, <c>dwconv.dwconv</c>, <c>fc2</c>. The hidden width is C (mlp_ratio 1 in UNext);
/// dropout is 0 in UNext and left out.
/// </remarks>
public sealed class ShiftedMlp : nn.Module<Tensor, long, long, Tensor>
{
    /// <summary>Number of channel groups (shift_size); the shifts run from −2 to 2.</summary>
    public const int ShiftSize = 5;
    const int Pad = ShiftSize / 2;

    private readonly Linear fc1, fc2;
    private readonly Sequential dwconv;

    public ShiftedMlp(int dim) : base(nameof(ShiftedMlp))
    {
        fc1 = nn.Linear(dim, dim, hasBias: true);
        dwconv = nn.Sequential(("dwconv", nn.Conv2d(dim, dim, 3, padding: 1, groups: dim, bias: true)));
        fc2 = nn.Linear(dim, dim, hasBias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor tokens, long h, long w)
    {
        var x = fc1.call(TokenMaps.ToTokens(Shift(ToMap(tokens, h, w), 2)));
        x = TokenMaps.ToTokens(dwconv.call(ToMap(x, h, w)));
        x = F.gelu(x);
        return fc2.call(TokenMaps.ToTokens(Shift(ToMap(x, h, w), 3)));
    }

    /// <summary>(B, N, C) → (B, C, H, W) as the reference's <c>transpose(1, 2).view(B, C, H, W)</c>.</summary>
    static Tensor ToMap(Tensor tokens, long h, long w) => tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], h, w);

    /// <summary>Moves channel group i of a (B, C, H, W) map by i − 2 pixels along <paramref name="dim"/> (2: H, 3: W).</summary>
    public static Tensor Shift(Tensor map, int dim)
    {
        long channels = map.shape[1], size = map.shape[dim];
        long group = (channels + ShiftSize - 1) / ShiftSize;
        var parts = new List<Tensor>();
        int shift = -Pad;
        for (long start = 0; start < channels; start += group, shift++)
        {
            var part = map.narrow(1, start, Math.Min(group, channels - start));
            if (shift == 0) { parts.Add(part); continue; }
            // Padded by Pad on both sides of dim; output[i] = input[i − shift] = padded[i + Pad − shift].
            var padded = F.pad(part, dim == 2 ? [0, 0, Pad, Pad] : [Pad, Pad, 0, 0]);
            parts.Add(padded.narrow(dim, Pad - shift, size));
        }
        return cat(parts, 1);
    }
}
