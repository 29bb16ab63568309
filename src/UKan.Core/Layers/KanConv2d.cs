using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Layers;

/// <summary>
/// KAN convolution, the conv layer of the "directly stacked KAN" baseline that ALL U-KAN compares with
/// (allukan-spec §3.3, §5, §7.7): the input is unfolded into C_in·k·k features per output pixel (patches, zero padded),
/// a <see cref="KanLinear"/> maps them to C_out (efficient-kan: 10 parameters per edge, no bias), and the result is laid
/// back out as (B, C_out, H', W'). This is the usual ConvKAN construction (e.g. StarostinV/convkan); written here from
/// that description, not copied.
/// </summary>
/// <remarks>
/// Groups: group g's KanLinear sees only its own channels' C_in/groups·k·k features and produces its C_out/groups
/// outputs; a depthwise conv (groups = C) is therefore C independent KanLinear(k·k → 1), 10·9 parameters per channel,
/// exactly the edges of the depthwise Conv2d it replaces. The groups run one after another (KanLinear has no grouped
/// form), which costs kernel launches on a GPU but no memory beyond the ungrouped layer's.
/// State-dict names: <c>kan.{g}.base_weight</c>, <c>kan.{g}.spline_weight</c>, <c>kan.{g}.spline_scaler</c>, <c>kan.{g}.grid</c>.
/// Padding: zeros are padded before the KAN, so border taps contribute φ(0) (spec §3.3), unlike KAonv's default.
/// </remarks>
public sealed class KanConv2d : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<KanLinear> kan;

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public int Dilation { get; }
    public int Groups { get; }

    public KanConv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1,
        int groups = 1, KanLinearOptions? options = null) : base(nameof(KanConv2d))
    {
        if (groups < 1 || inChannels % groups != 0 || outChannels % groups != 0)
            throw new ArgumentException($"KAN conv: {inChannels} in and {outChannels} out channels are not divisible into {groups} groups");
        (InChannels, OutChannels, KernelSize, Stride, Padding, Dilation, Groups) =
            (inChannels, outChannels, kernelSize, stride, padding, dilation, groups);
        int features = inChannels / groups * kernelSize * kernelSize;
        kan = nn.ModuleList(Enumerable.Range(0, groups).Select(_ => new KanLinear(features, outChannels / groups, options)).ToArray());
        RegisterComponents();
    }

    /// <summary>The KanLinear of each group (one when groups = 1).</summary>
    public IReadOnlyList<KanLinear> Kans => kan.ToList();

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0];
        long outH = OutputSize(x.shape[2]), outW = OutputSize(x.shape[3]);
        // (B, C·k·k, L): features ordered (channel, kernel row, kernel column), as Conv2d's weight is flattened, so
        // group g's features are one contiguous block.
        var patches = F.unfold(x, KernelSize, Dilation, Padding, Stride).transpose(1, 2);       // (B, L, C·k·k)
        Tensor y;
        if (Groups == 1) y = kan[0].call(patches);
        else
        {
            long width = patches.shape[2] / Groups;
            y = cat(kan.Select((k, g) => k.call(patches.narrow(2, g * width, width))).ToArray(), 2);
        }
        return y.transpose(1, 2).reshape(batch, OutChannels, outH, outW).MoveToOuterDisposeScope();
    }

    long OutputSize(long size) => (size + 2L * Padding - (long)Dilation * (KernelSize - 1) - 1) / Stride + 1;
}
