using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Models.Diffusion;

/// <summary>
/// Building blocks of the DDPM noise predictors of Diffusion U-KAN (CUHK-AIM-Group/U-KAN
/// <c>Diffusion_UKAN/Diffusion/Model_UKAN_Hybrid.py</c>, after the "Simple DDPM" U-Net it extends). Field names give
/// the official state-dict keys. The official "Swish" (x·σ(x)) is SiLU.
/// </summary>
public abstract class TimedBlock(string name) : nn.Module<Tensor, Tensor, Tensor>(name);

/// <summary>
/// Sinusoidal embedding of the step index t (frozen table: sin and cos of pos·10000^(−2i/d) interleaved), then
/// Linear → Swish → Linear. Sequential names timembedding.0 (the table) … .3 as in the reference.
/// </summary>
public sealed class TimeEmbedding : nn.Module<Tensor, Tensor>
{
    private readonly Sequential timembedding;

    public TimeEmbedding(int steps, int dModel, int dim) : base(nameof(TimeEmbedding))
    {
        if (dModel % 2 != 0) throw new ArgumentException("d_model must be even");
        var freq = exp(-(arange(0, dModel, 2, dtype: float32) / dModel * Math.Log(10000)));
        var angle = arange(steps, dtype: float32).unsqueeze(1) * freq.unsqueeze(0);
        var table = stack([angle.sin(), angle.cos()], -1).view(steps, dModel);
        timembedding = nn.Sequential(
            ("0", new FrozenTable(table)),
            ("1", nn.Linear(dModel, dim)),
            ("2", nn.SiLU()),
            ("3", nn.Linear(dim, dim)));
        RegisterComponents();
        using var _ = no_grad();
        foreach (var m in timembedding.modules().OfType<Linear>()) { nn.init.xavier_uniform_(m.weight!); m.bias!.zero_(); }
    }

    public override Tensor forward(Tensor t) => timembedding.call(t);
}

/// <summary>
/// A fixed lookup table under the key "weight" (nn.Embedding.from_pretrained(freeze=True) in the reference). Kept as a
/// buffer: TorchSharp's frozen Embedding still reports its weight as trainable, and the table must never train.
/// </summary>
public sealed class FrozenTable : nn.Module<Tensor, Tensor>
{
    private readonly Tensor weight;
    public FrozenTable(Tensor table) : base(nameof(FrozenTable)) { weight = table; RegisterComponents(); }
    public override Tensor forward(Tensor index) => weight.index_select(0, index.flatten()).reshape([.. index.shape, weight.shape[1]]);
}

/// <summary>GroupNorm → Swish → Conv, plus the projected time embedding, then GroupNorm → Swish → Dropout → Conv, plus the shortcut.</summary>
public sealed class ResBlock : TimedBlock
{
    private readonly Sequential block1, temb_proj, block2;
    private readonly nn.Module<Tensor, Tensor> shortcut;
    private readonly nn.Module<Tensor, Tensor>? attn;

    public ResBlock(int inCh, int outCh, int tdim, double dropout, bool attention = false) : base(nameof(ResBlock))
    {
        block1 = nn.Sequential(("0", Norms.GroupNorm(32, inCh)), ("1", nn.SiLU()), ("2", nn.Conv2d(inCh, outCh, 3, padding: 1)));
        temb_proj = nn.Sequential(("0", nn.SiLU()), ("1", nn.Linear(tdim, outCh)));
        block2 = nn.Sequential(("0", Norms.GroupNorm(32, outCh)), ("1", nn.SiLU()), ("2", nn.Dropout(dropout)), ("3", nn.Conv2d(outCh, outCh, 3, padding: 1)));
        shortcut = inCh != outCh ? nn.Conv2d(inCh, outCh, 1) : nn.Identity();
        attn = attention ? new AttnBlock(outCh) : null;
        RegisterComponents();
        using var _ = no_grad();
        foreach (var m in new nn.Module[] { block1, temb_proj, block2, shortcut }.SelectMany(m => m.modules()))
            if (m is Conv2d c) { nn.init.xavier_uniform_(c.weight!); c.bias!.zero_(); }
            else if (m is Linear l) { nn.init.xavier_uniform_(l.weight!); l.bias!.zero_(); }
        nn.init.xavier_uniform_(((Conv2d)block2[3]).weight!, gain: 1e-5);
    }

    public override Tensor forward(Tensor x, Tensor temb)
    {
        var h = block1.call(x) + temb_proj.call(temb).unsqueeze(-1).unsqueeze(-1);
        h = block2.call(h) + shortcut.call(x);
        return attn is null ? h : attn.call(h);
    }
}

/// <summary>Self-attention over the pixels of a map (the DDPM U-Net's AttnBlock), residual.</summary>
public sealed class AttnBlock : nn.Module<Tensor, Tensor>
{
    private readonly GroupNorm group_norm;
    private readonly Conv2d proj_q, proj_k, proj_v, proj;

    public AttnBlock(int ch) : base(nameof(AttnBlock))
    {
        group_norm = Norms.GroupNorm(32, ch);
        proj_q = nn.Conv2d(ch, ch, 1); proj_k = nn.Conv2d(ch, ch, 1); proj_v = nn.Conv2d(ch, ch, 1); proj = nn.Conv2d(ch, ch, 1);
        RegisterComponents();
        using var _ = no_grad();
        foreach (var c in new[] { proj_q, proj_k, proj_v, proj }) { nn.init.xavier_uniform_(c.weight!); c.bias!.zero_(); }
        nn.init.xavier_uniform_(proj.weight!, gain: 1e-5);
    }

    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var n = group_norm.call(x);
        var q = proj_q.call(n).permute(0, 2, 3, 1).reshape(b, h * w, c);
        var k = proj_k.call(n).reshape(b, c, h * w);
        var weights = F.softmax(bmm(q, k) * Math.Pow(c, -0.5), -1);
        var v = proj_v.call(n).permute(0, 2, 3, 1).reshape(b, h * w, c);
        var o = bmm(weights, v).reshape(b, h, w, c).permute(0, 3, 1, 2);
        return x + proj.call(o);
    }
}

/// <summary>Strided 3×3 convolution halving the resolution.</summary>
public sealed class DownSample : TimedBlock
{
    private readonly Conv2d main;
    public DownSample(int ch) : base(nameof(DownSample))
    {
        main = nn.Conv2d(ch, ch, 3, stride: 2, padding: 1);
        RegisterComponents();
        using var _ = no_grad();
        nn.init.xavier_uniform_(main.weight!); main.bias!.zero_();
    }
    public override Tensor forward(Tensor x, Tensor temb) => main.call(x);
}

/// <summary>Nearest-neighbour ×2 then a 3×3 convolution.</summary>
public sealed class UpSample : TimedBlock
{
    private readonly Conv2d main;
    public UpSample(int ch) : base(nameof(UpSample))
    {
        main = nn.Conv2d(ch, ch, 3, padding: 1);
        RegisterComponents();
        using var _ = no_grad();
        nn.init.xavier_uniform_(main.weight!); main.bias!.zero_();
    }
    public override Tensor forward(Tensor x, Tensor temb) => main.call(F.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest));
}

/// <summary>
/// The tokenized block of Diffusion U-KAN (shiftedBlock): KANLinear(LayerNorm(x)) with a Swish base, plus the projected
/// time embedding broadcast over the tokens. No residual and no depthwise convolution, unlike the segmentation block.
/// With <c>mlp</c> (a constructor argument) the KAN is Linear → Swish → Linear (the UMLP baseline).
/// </summary>
public sealed class ShiftedBlock : nn.Module<Tensor, Tensor, Tensor>
{
    private readonly LayerNorm norm2;
    private readonly Sequential temb_proj;
    private readonly nn.Module<Tensor, Tensor> kan;

    public ShiftedBlock(int dim, int tdim, bool mlp = false) : base(nameof(ShiftedBlock))
    {
        norm2 = nn.LayerNorm(dim);
        temb_proj = nn.Sequential(("0", nn.SiLU()), ("1", nn.Linear(tdim, dim)));
        kan = mlp ? new TokenMlp(dim) : new TokenKan(dim);
        RegisterComponents();
        OfficialInit.Apply(this);
    }

    public override Tensor forward(Tensor tokens, Tensor temb)
    {
        long b = tokens.shape[0], n = tokens.shape[1], c = tokens.shape[2];
        var x = kan.call(norm2.call(tokens).reshape(b * n, c)).reshape(b, n, c);
        return x + temb_proj.call(temb).unsqueeze(1);
    }

    /// <summary>The reference's "kan" wrapper: one KANLinear named fc1 (SiLU/Swish base, grid 5, order 3).</summary>
    sealed class TokenKan : nn.Module<Tensor, Tensor>
    {
        private readonly KanLinear fc1;
        public TokenKan(int dim) : base("kan") { fc1 = new KanLinear(dim, dim); RegisterComponents(); }
        public override Tensor forward(Tensor x) => fc1.call(x);
    }

    /// <summary>The UMLP baseline's token mixer: fc1 → Swish → fc2.</summary>
    sealed class TokenMlp : nn.Module<Tensor, Tensor>
    {
        private readonly Linear fc1, fc2;
        public TokenMlp(int dim) : base("mlp") { fc1 = nn.Linear(dim, dim); fc2 = nn.Linear(dim, dim); RegisterComponents(); }
        public override Tensor forward(Tensor x) => fc2.call(F.silu(fc1.call(x)));
    }
}

/// <summary>GroupNorm → Swish → 3×3 conv, plus the projected time embedding (D_SingleConv).</summary>
public sealed class DSingleConv : TimedBlock
{
    private readonly Sequential conv, temb_proj;
    public DSingleConv(int inCh, int outCh, int tdim) : base(nameof(DSingleConv))
    {
        conv = nn.Sequential(("0", Norms.GroupNorm(32, inCh)), ("1", nn.SiLU()), ("2", nn.Conv2d(inCh, outCh, 3, padding: 1)));
        temb_proj = nn.Sequential(("0", nn.SiLU()), ("1", nn.Linear(tdim, outCh)));
        RegisterComponents();
    }
    public override Tensor forward(Tensor x, Tensor temb) => conv.call(x) + temb_proj.call(temb).unsqueeze(-1).unsqueeze(-1);
}
