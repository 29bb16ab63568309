using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace UKan.Layers;

/// <summary>
/// UNeXt's tokenized MLP block (<c>shiftedBlock</c> of jeya-maria-jose/UNeXt-pytorch <c>archs.py</c>):
/// x + ShiftedMlp(LayerNorm(x)); drop path is 0 in UNext and left out. Keys <c>norm2</c>, <c>mlp.*</c> as the reference.
/// </summary>
public sealed class ShiftedMlpBlock : nn.Module<Tensor, long, long, Tensor>
{
    private readonly LayerNorm norm2;
    private readonly ShiftedMlp mlp;

    public ShiftedMlpBlock(int dim) : base(nameof(ShiftedMlpBlock))
    {
        norm2 = nn.LayerNorm(dim);
        mlp = new ShiftedMlp(dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, long h, long w) => x + mlp.call(norm2.call(x), h, w);
}
