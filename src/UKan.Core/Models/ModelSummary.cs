using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Models;

/// <summary>One row of a model summary: a top-level module, its parameters and its multiply-accumulates.</summary>
public sealed record SummaryRow(string Module, string Type, long Parameters, long Macs);

/// <summary>
/// Parameters per module and multiply-accumulates (MACs) for an input size, counted on a real forward pass:
/// convolutions (out elements × in/groups × kh × kw), transposed convolutions (in elements × out/groups × kh × kw: each
/// input pixel is spread over a kh × kw patch; thop counts out elements × in × kh × kw, stride² times more), linear maps
/// (rows × in × out) and the project's layers through
/// <see cref="IMacCounter"/> (KANLinear: rows × out × in × (1 + G + k)). Normalisation, activations, pooling and
/// upsampling are not counted, as in the figures of docs/architecture.md ("U-KAN's size and compute"; thop undercounts by skipping KANLinear).
/// <para>
/// Every counted layer's work is proportional to the pixels (or tokens) of its stage, and at sizes that are multiples
/// of 32 each stage holds exactly 1/4^k of the input's pixels; so the pass runs at 32×32 and the counts are scaled by
/// (height/32)·(width/32), exactly. A pass at the asked size would need the activations of a real forward pass: the
/// large preset at 4096×4096 took more than the 23 GB of a test machine's memory and was killed.
/// </para>
/// </summary>
public static class ModelSummary
{
    /// <summary>The smallest input every architecture takes (five halvings) and the size the pass runs at.</summary>
    const int Base = 32;

    public static (IReadOnlyList<SummaryRow> Rows, long TotalParameters, long TotalMacs) Run(nn.Module<Tensor, Tensor> model, int inChannels, int height, int width)
    {
        long scale = 1;
        if (height % Base == 0 && width % Base == 0)
            (scale, height, width) = ((long)(height / Base) * (width / Base), Base, Base);
        var macsByTop = new Dictionary<string, long>();
        var hooks = new List<Action>();
        foreach (var (name, module) in model.named_modules())
        {
            if (module is not nn.Module<Tensor, Tensor> leaf || name.Length == 0) continue;
            var top = name.Split('.')[0];
            var remover = leaf.register_forward_hook((m, input, output) =>
            {
                long macs = m switch
                {
                    IMacCounter counter => counter.CountMacs(input, output),
                    // weight: (in, out/groups, kh, kw).
                    ConvTranspose2d up => input.numel() * up.weight!.shape[1] * up.weight.shape[2] * up.weight.shape[3],
                    Conv2d conv => output.numel() * conv.weight!.shape[1] * conv.weight.shape[2] * conv.weight.shape[3],
                    Linear linear => output.numel() * linear.weight!.shape[1],
                    _ => 0,
                };
                macsByTop[top] = macsByTop.GetValueOrDefault(top) + macs * scale;
                return output;
            });
            hooks.Add(remover.remove);
        }
        model.eval();
        using (no_grad())
        using (var scope = NewDisposeScope())
            model.call(zeros(1, inChannels, height, width));
        foreach (var remove in hooks) remove();

        var rows = model.named_children()
            .Select(c => new SummaryRow(c.name, c.module.GetType().Name.Split('`')[0],
                c.module.parameters().Sum(p => p.numel()), macsByTop.GetValueOrDefault(c.name)))
            .ToList();
        return (rows, ModelFactory.CountParameters(model), macsByTop.Values.Sum());
    }
}
