using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// KAN convolution, the conv layer of the "directly stacked KAN" baseline that ALL U-KAN compares with
/// (docs/allukan.md §R.4, §R.9, §R.10): the input is unfolded into C_in·k·k features per output pixel (patches, zero padded),
/// a <see cref="KanLinear"/> maps them to C_out (efficient-kan: 10 parameters per edge, no bias), and the result is laid
/// back out as (B, C_out, H', W'). This is the usual ConvKAN construction (e.g. StarostinV/convkan); written here from
/// that description, not copied.
/// </summary>
/// <remarks>
/// Groups: the edges are exactly those of the grouped Conv2d it replaces — output o of group g sees only group g's
/// C_in/groups·k·k features, each edge a KAN function. They are held by one KanLinear(groups·C_in/groups·k·k →
/// C_out/groups) whose input block g feeds output channel g·C_out/groups + o, so a depthwise conv (groups = C) is
/// C functions-of-9-taps, 10·9 parameters per channel, computed in one batched product instead of C separate layers.
/// This is the same as one KanLinear per group (tested), including the initialisation: efficient-kan's kaiming bound
/// 1/√fan_in is restored to each group's fan-in by scaling base weights and spline scalers by √groups.
/// State-dict names: <c>kan.base_weight</c>, <c>kan.spline_weight</c>, <c>kan.spline_scaler</c>, <c>kan.grid</c>.
/// Padding: zeros are padded before the KAN, so border taps contribute φ(0) (docs/allukan.md §R.4), unlike KAonv's default.
/// </remarks>
public sealed class KanConv2d : nn.Module<Tensor, Tensor>, IMacCounter
{
    private readonly KanLinear kan;

    public ConvGeometry Geometry { get; }

    public KanConv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1,
        int groups = 1, KanLinearOptions? options = null) : base(nameof(KanConv2d))
    {
        Geometry = new ConvGeometry(inChannels, outChannels, kernelSize, stride, padding, dilation, groups).Validated("KAN conv");
        kan = new KanLinear(inChannels * kernelSize * kernelSize, outChannels / groups, options);
        RegisterComponents();
        if (groups > 1)
            using (no_grad())
            {
                kan.BaseWeight.mul_(Math.Sqrt(groups));
                kan.SplineScaler?.mul_(Math.Sqrt(groups));
            }
    }

    /// <summary>The KanLinear holding every edge (input block g belongs to group g).</summary>
    public KanLinear Kan => kan;

    /// <summary>
    /// KANLinear's count per edge, (1 + G + k) per input feature and output. Ungrouped, the inner KanLinear is called as
    /// a module and counts itself; grouped, its weights are used directly, so the count is made here.
    /// </summary>
    public long CountMacs(Tensor input, Tensor output) => Geometry.Groups == 1 ? 0
        : output.numel() * (Geometry.InChannels / Geometry.Groups) * Geometry.KernelSize * Geometry.KernelSize * (1L + kan.BasisCount);

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0];
        var (k, groups, outChannels) = (Geometry.KernelSize, Geometry.Groups, Geometry.OutChannels);
        long outH = Geometry.OutputSize(x.shape[2]), outW = Geometry.OutputSize(x.shape[3]);
        // (B, C·k·k, L): features ordered (channel, kernel row, kernel column), as Conv2d's weight is flattened, so
        // group g's features are one contiguous block.
        var patches = F.unfold(x, k, Geometry.Dilation, Geometry.Padding, Geometry.Stride).transpose(1, 2);       // (B, L, C·k·k)
        Tensor y;
        if (groups == 1) y = kan.call(patches);
        else
        {
            // features (rows, G, f) · weights (out/G, G, f) → (rows, G, out/G), f = (C_in/G·k·k)·(1+K).
            var rows = patches.reshape(-1, patches.shape[2]);
            var features = kan.Features(rows).view(rows.shape[0], groups, -1);
            var weight = kan.FusedWeight().view(outChannels / groups, groups, -1);
            y = einsum("rgf,ogf->rgo", features, weight).reshape(batch, -1, outChannels);
        }
        return y.transpose(1, 2).reshape(batch, outChannels, outH, outW).MoveToOuterDisposeScope();
    }
}
