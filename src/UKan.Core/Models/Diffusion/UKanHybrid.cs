using System.Text.Json.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using UKan.Layers;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Models.Diffusion;

/// <summary>The noise predictors Diffusion U-KAN compares; the JSON and CLI names are the official model_dict keys, lower-cased.</summary>
public enum DiffusionArchitecture
{
    [JsonStringEnumMemberName("ukan-hybrid")] UKanHybrid,
    [JsonStringEnumMemberName("umlp")] UMlp,
    [JsonStringEnumMemberName("unet")] UNet,
}

/// <summary>
/// The DDPM U-Net shared by the three noise predictors: head conv, a down path of residual blocks (2 per level,
/// channel multipliers [1, 2, 3, 4] of 64, a strided conv between levels), a middle, an up path that concatenates the
/// saved skips, and a GroupNorm → Swish → conv tail. Field names give the official keys (head, downblocks.N,
/// upblocks.N, tail). The middle is what differs: <see cref="UKanHybrid"/> and <see cref="DdpmUNet"/>.
/// </summary>
public abstract class DdpmBackbone : nn.Module<Tensor, Tensor, Tensor>
{
    protected readonly TimeEmbedding time_embedding;
    protected readonly Conv2d head;
    protected readonly ModuleList<TimedBlock> downblocks;
    protected readonly ModuleList<TimedBlock> upblocks;
    protected readonly Sequential tail;

    public int Channels { get; }

    protected DdpmBackbone(string name, int steps, int ch, int[] mult, int resBlocks, double dropout, ISet<int> attnLevels) : base(name)
    {
        Channels = ch;
        int tdim = ch * 4;
        time_embedding = new TimeEmbedding(steps, ch, tdim);
        head = nn.Conv2d(3, ch, 3, padding: 1);
        var down = new List<TimedBlock>();
        var chs = new Stack<int>();
        chs.Push(ch);
        int now = ch;
        for (int i = 0; i < mult.Length; i++)
        {
            for (int r = 0; r < resBlocks; r++)
            {
                down.Add(new ResBlock(now, ch * mult[i], tdim, dropout, attnLevels.Contains(i)));
                now = ch * mult[i];
                chs.Push(now);
            }
            if (i != mult.Length - 1) { down.Add(new DownSample(now)); chs.Push(now); }
        }
        var up = new List<TimedBlock>();
        for (int i = mult.Length - 1; i >= 0; i--)
        {
            for (int r = 0; r <= resBlocks; r++)
            {
                up.Add(new ResBlock(chs.Pop() + now, ch * mult[i], tdim, dropout, attnLevels.Contains(i)));
                now = ch * mult[i];
            }
            if (i != 0) up.Add(new UpSample(now));
        }
        downblocks = nn.ModuleList(down.ToArray());
        upblocks = nn.ModuleList(up.ToArray());
        tail = nn.Sequential(("0", Norms.GroupNorm(32, now)), ("1", nn.SiLU()), ("2", nn.Conv2d(now, 3, 3, padding: 1)));
    }

    /// <summary>The reference's initialize(): head xavier, tail's last conv xavier with gain 1e-5, zero biases.</summary>
    protected void InitializeEnds()
    {
        using var _ = no_grad();
        nn.init.xavier_uniform_(head.weight!); head.bias!.zero_();
        var last = (Conv2d)tail[2];
        nn.init.xavier_uniform_(last.weight!, gain: 1e-5); last.bias!.zero_();
    }

    /// <summary>ε prediction for images x (B, 3, H, W) at steps t (B).</summary>
    public override Tensor forward(Tensor x, Tensor t)
    {
        using var scope = NewDisposeScope();
        var temb = time_embedding.call(t);
        var h = head.call(x);
        var hs = new Stack<Tensor>();
        hs.Push(h);
        foreach (var layer in downblocks) { h = layer.call(h, temb); hs.Push(h); }
        h = Middle(h, temb);
        foreach (var layer in upblocks)
        {
            if (layer is ResBlock) h = cat([h, hs.Pop()], 1);
            h = layer.call(h, temb);
        }
        return tail.call(h).MoveToOuterDisposeScope();
    }

    protected abstract Tensor Middle(Tensor h, Tensor temb);

    public long TrainableParameters() => parameters().Where(p => p.requires_grad).Sum(p => p.numel());

    public static DdpmBackbone Create(DiffusionArchitecture architecture, double dropout = 0.15) => architecture switch
    {
        DiffusionArchitecture.UKanHybrid => new UKanHybrid(dropout: dropout),
        DiffusionArchitecture.UMlp => new UKanHybrid(dropout: dropout, mlp: true),
        DiffusionArchitecture.UNet => new DdpmUNet(dropout: dropout),
        _ => throw new ArgumentOutOfRangeException(nameof(architecture)),
    };
}

/// <summary>
/// Diffusion U-KAN's noise predictor: "U-KAN Makes Strong Backbone for Medical Image Segmentation and Generation",
/// Li et al., AAAI 2025, §3.3. Mirrors <c>UKan_Hybrid</c> of CUHK-AIM-Group/U-KAN
/// <c>Diffusion_UKAN/Diffusion/Model_UKAN_Hybrid.py</c>; state-dict keys are identical, so released checkpoints load.
/// </summary>
/// <remarks>
/// The DDPM U-Net's middle is replaced by a tokenized KAN bottleneck with embed dims [256, 320, 512]: patch embedding
/// (3×3, stride 2) to 320 at 4×4, a shifted KAN block, LayerNorm; patch embedding to 512 at 2×2, a block, LayerNorm;
/// then D_SingleConv 512→320, bilinear ×2, Swish, + skip, a block, LayerNorm; D_SingleConv 320→256, bilinear ×2, Swish,
/// + the 8×8 skip. Departures: none in the computation. The reference's constructor arguments attn and img_size are
/// ignored there (attn is overwritten with []); here they do not exist. The KAN dims are fixed by the reference (its time
/// projections take 256 = 4·64 features), so ch must be 64.
/// </remarks>
public sealed class UKanHybrid : DdpmBackbone
{
    private readonly PatchEmbed patch_embed3, patch_embed4;
    private readonly LayerNorm norm3, norm4, dnorm3;
    private readonly ModuleList<ShiftedBlock> kan_block1, kan_block2, kan_dblock1;
    private readonly DSingleConv decoder1, decoder2;

    public bool Mlp { get; }

    public UKanHybrid(int steps = 1000, int ch = 64, double dropout = 0.15, bool mlp = false)
        : base(mlp ? "UMLP" : "UKan_Hybrid", steps, ch, [1, 2, 3, 4], 2, dropout, new HashSet<int>())
    {
        if (ch != 64) throw new ArgumentException("UKan_Hybrid's KAN bottleneck is built for ch = 64 (time embedding of 256)");
        Mlp = mlp;
        int tdim = ch * 4;
        patch_embed3 = new PatchEmbed(256, 320, ConvFactories.Conv2d);
        patch_embed4 = new PatchEmbed(320, 512, ConvFactories.Conv2d);
        norm3 = nn.LayerNorm(320);
        norm4 = nn.LayerNorm(512);
        dnorm3 = nn.LayerNorm(320);
        kan_block1 = nn.ModuleList(new ShiftedBlock(320, tdim, mlp));
        kan_block2 = nn.ModuleList(new ShiftedBlock(512, tdim, mlp));
        kan_dblock1 = nn.ModuleList(new ShiftedBlock(320, tdim, mlp));
        decoder1 = new DSingleConv(512, 320, tdim);
        decoder2 = new DSingleConv(320, 256, tdim);
        RegisterComponents();
        OfficialInit.Apply(patch_embed3);
        OfficialInit.Apply(patch_embed4);
        InitializeEnds();
    }

    protected override Tensor Middle(Tensor t3, Tensor temb)
    {
        var t4 = Tokens(patch_embed3, kan_block1, norm3, t3, temb);
        var h = Tokens(patch_embed4, kan_block2, norm4, t4, temb);
        h = Up(decoder1, h, temb) + t4;
        long hh = h.shape[2], ww = h.shape[3];
        var tokens = TokenMaps.ToTokens(h);
        foreach (var block in kan_dblock1) tokens = block.call(tokens, temb);
        h = TokenMaps.ToMap(dnorm3.call(tokens), hh, ww, layoutOf: t3);
        return Up(decoder2, h, temb) + t3;
    }

    static Tensor Tokens(PatchEmbed embed, ModuleList<ShiftedBlock> blocks, LayerNorm norm, Tensor map, Tensor temb)
    {
        var (tokens, h, w) = embed.Embed(map);
        foreach (var block in blocks) tokens = block.call(tokens, temb);
        return TokenMaps.ToMap(norm.call(tokens), h, w, layoutOf: map);
    }

    static Tensor Up(DSingleConv decoder, Tensor x, Tensor temb) =>
        F.silu(BilinearUpsample.Twice(decoder.call(x, temb)));
}

/// <summary>
/// The DDPM U-Net the paper compares with (Ho et al. 2020, as in the "Simple DDPM" code the official repository
/// carries: <c>Diffusion_UKAN/Diffusion/UNet.py</c>): self-attention in the residual blocks of level 2 and a middle of
/// two residual blocks, the first with attention.
/// </summary>
public sealed class DdpmUNet : DdpmBackbone
{
    private readonly ModuleList<TimedBlock> middleblocks;

    public DdpmUNet(int steps = 1000, int ch = 64, double dropout = 0.15)
        : base("UNet", steps, ch, [1, 2, 3, 4], 2, dropout, new HashSet<int> { 2 })
    {
        int now = ch * 4;
        middleblocks = nn.ModuleList<TimedBlock>(new ResBlock(now, now, ch * 4, dropout, attention: true), new ResBlock(now, now, ch * 4, dropout));
        RegisterComponents();
        InitializeEnds();
    }

    protected override Tensor Middle(Tensor h, Tensor temb)
    {
        foreach (var block in middleblocks) h = block.call(h, temb);
        return h;
    }
}
