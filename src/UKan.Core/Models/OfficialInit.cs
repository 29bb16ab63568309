using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>
/// The reference's <c>_init_weights</c> (Seg_UKAN/archs.py), applied by PatchEmbed, KANLayer and KANBlock to their
/// sub-modules: Linear → truncated normal (std 0.02), bias 0; LayerNorm → (1, 0); Conv2d → normal(0, √(2/fan_out)),
/// fan_out = k·k·out/groups, bias 0. Other module types (KanLinear, KAonv) keep their own initialisation.
/// </summary>
public static class OfficialInit
{
    public static void Apply(nn.Module root)
    {
        using var _ = no_grad();
        foreach (var m in root.modules())
        {
            switch (m)
            {
                case Linear linear:
                    nn.init.trunc_normal_(linear.weight!, std: 0.02);
                    linear.bias?.zero_();
                    break;
                case LayerNorm norm:
                    norm.weight?.fill_(1.0);
                    norm.bias?.zero_();
                    break;
                case Conv2d conv:
                    var w = conv.weight!;
                    long fanOut = w.shape[2] * w.shape[3] * w.shape[0] / conv.groups;
                    w.normal_(0, Math.Sqrt(2.0 / fanOut));
                    conv.bias?.zero_();
                    break;
            }
        }
    }
}
