using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>
/// The reference's <c>_init_weights</c> (Seg_UKAN/archs.py), applied by PatchEmbed, KANLayer and KANBlock to their
/// sub-modules: Linear → truncated normal (std 0.02), bias 0; LayerNorm → (1, 0); Conv2d → normal(0, √(2/fan_out)),
/// fan_out = k·k·out/groups, bias 0. Other module types (KanLinear, KAonv, KA) keep their own initialisation, unless
/// <c>kaLambdas</c> asks for the same rules on the Λ and b of KA layers (as Linear) and KAonv layers (as Conv2d):
/// an ALL U-KAN option, since the paper does not say which initialisation Λ gets.
/// </summary>
public static class OfficialInit
{
    public static void Apply(nn.Module root, bool kaLambdas = false)
    {
        using var _ = no_grad();
        foreach (var m in root.modules())
        {
            switch (m)
            {
                case Linear linear:
                    InitLinear(linear.weight!, linear.bias);
                    break;
                case LayerNorm norm:
                    norm.weight?.fill_(1.0);
                    norm.bias?.zero_();
                    break;
                case Conv2d conv:
                    InitConv(conv.weight!, conv.bias, conv.groups);
                    break;
                case KaLinear ka when kaLambdas:
                    InitLinear(ka.Weight, ka.Bias);
                    break;
                case KaConv2d kaonv when kaLambdas:
                    InitConv(kaonv.Weight, kaonv.Bias, kaonv.Geometry.Groups);
                    break;
            }
        }
    }

    /// <summary>Applies <see cref="Apply"/> to the named children of <paramref name="model"/>, in the order given.</summary>
    public static void ApplyToStages(nn.Module model, IEnumerable<string> stages, bool kaLambdas = false)
    {
        var children = model.named_children().ToDictionary(c => c.name, c => c.module);
        foreach (var name in stages) Apply(children[name], kaLambdas);
    }

    static void InitLinear(Tensor weight, Tensor? bias)
    {
        TruncatedNormal.Fill_(weight, std: 0.02);
        bias?.zero_();
    }

    static void InitConv(Tensor weight, Tensor? bias, long groups)
    {
        long fanOut = weight.shape[2] * weight.shape[3] * weight.shape[0] / groups;
        weight.normal_(0, Math.Sqrt(2.0 / fanOut));
        bias?.zero_();
    }
}
