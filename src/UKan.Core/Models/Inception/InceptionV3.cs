using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace UKan.Models.Inception;

/// <summary>Which published Inception v3 weights the network is built for.</summary>
public enum InceptionVariant
{
    /// <summary>
    /// pytorch-fid's port of TensorFlow's 2015-12-05 Inception (pt_inception-2015-12-05-6726825d.pth): 1008 classes, no
    /// auxiliary head, and TensorFlow's pooling (average pools ignore padding; the last block max-pools). FID is defined on it.
    /// </summary>
    Fid,
    /// <summary>torchvision's ImageNet Inception v3 (inception_v3_google-0cc3c7bd.pth): 1000 classes, auxiliary head. The Inception Score script uses it.</summary>
    Torchvision,
}

/// <summary>How an Inception block pools its fourth branch.</summary>
public enum BranchPool { Average, AverageWithoutPadding, Max }

/// <summary>
/// Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR 2016) for the
/// generative metrics of Diffusion U-KAN (docs/diffusion.md, FID and IS). Mirrors torchvision/models/inception.py <c>Inception3</c> and,
/// for <see cref="InceptionVariant.Fid"/>, the patched blocks of mseitzer/pytorch-fid <c>src/pytorch_fid/inception.py</c>;
/// module names are theirs, so both published weight files load strictly.
/// </summary>
/// <remarks>
/// Evaluation only: the auxiliary head is kept (torchvision variant) so that the file's keys match, but never runs;
/// dropout before the classifier is the identity in eval mode and is left out. Departures: none in the computation.
/// </remarks>
public sealed class InceptionV3 : nn.Module<Tensor, Tensor>
{
    private readonly BasicConv2d Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, Conv2d_3b_1x1, Conv2d_4a_3x3;
    private readonly InceptionA Mixed_5b, Mixed_5c, Mixed_5d;
    private readonly InceptionB Mixed_6a;
    private readonly InceptionC Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e;
    private readonly InceptionAux? AuxLogits;
    private readonly InceptionD Mixed_7a;
    private readonly InceptionE Mixed_7b, Mixed_7c;
    private readonly Linear fc;

    public InceptionVariant Variant { get; }
    public int Classes { get; }

    /// <summary>The side both weight files were trained at; inputs are resized to it.</summary>
    public const int InputSize = 299;

    /// <summary>Width of the pool3 features FID uses.</summary>
    public const int FeatureSize = 2048;

    public InceptionV3(InceptionVariant variant) : base("Inception3")
    {
        Variant = variant;
        bool fid = variant == InceptionVariant.Fid;
        Classes = fid ? 1008 : 1000;
        var pool = fid ? BranchPool.AverageWithoutPadding : BranchPool.Average;
        Conv2d_1a_3x3 = new BasicConv2d(3, 32, 3, stride: 2);
        Conv2d_2a_3x3 = new BasicConv2d(32, 32, 3);
        Conv2d_2b_3x3 = new BasicConv2d(32, 64, 3, padding: 1);
        Conv2d_3b_1x1 = new BasicConv2d(64, 80, 1);
        Conv2d_4a_3x3 = new BasicConv2d(80, 192, 3);
        Mixed_5b = new InceptionA(192, 32, pool);
        Mixed_5c = new InceptionA(256, 64, pool);
        Mixed_5d = new InceptionA(288, 64, pool);
        Mixed_6a = new InceptionB(288);
        Mixed_6b = new InceptionC(768, 128, pool);
        Mixed_6c = new InceptionC(768, 160, pool);
        Mixed_6d = new InceptionC(768, 160, pool);
        Mixed_6e = new InceptionC(768, 192, pool);
        if (!fid) AuxLogits = new InceptionAux(768, Classes);
        Mixed_7a = new InceptionD(768);
        Mixed_7b = new InceptionE(1280, pool);
        // pytorch-fid's FIDInceptionE_2: the TensorFlow graph max-pools here (its comment calls it a likely error there).
        Mixed_7c = new InceptionE(2048, fid ? BranchPool.Max : BranchPool.Average);
        fc = nn.Linear(FeatureSize, Classes);
        RegisterComponents();
        eval();
    }

    /// <summary>pool3 features (B, 2048) of images (B, 3, 299, 299) scaled to [−1, 1].</summary>
    public Tensor Features(Tensor x)
    {
        using var scope = NewDisposeScope();
        x = F.max_pool2d(Conv2d_2b_3x3.call(Conv2d_2a_3x3.call(Conv2d_1a_3x3.call(x))), 3, 2);
        x = F.max_pool2d(Conv2d_4a_3x3.call(Conv2d_3b_1x1.call(x)), 3, 2);
        foreach (var block in new nn.Module<Tensor, Tensor>[] { Mixed_5b, Mixed_5c, Mixed_5d, Mixed_6a, Mixed_6b, Mixed_6c, Mixed_6d, Mixed_6e, Mixed_7a, Mixed_7b, Mixed_7c })
            x = block.call(x);
        return F.adaptive_avg_pool2d(x, [1, 1]).flatten(1).MoveToOuterDisposeScope();
    }

    /// <summary>Class logits (B, 1008 or 1000).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return fc.call(Features(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>Conv (no bias) → BatchNorm (eps 1e-3, TensorFlow's) → ReLU.</summary>
internal sealed class BasicConv2d : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly BatchNorm2d bn;

    public BasicConv2d(int inCh, int outCh, int kernel, int stride = 1, int padding = 0)
        : this(inCh, outCh, (kernel, kernel), stride, (padding, padding)) { }

    public BasicConv2d(int inCh, int outCh, (int H, int W) kernel, int stride = 1, (int H, int W) padding = default) : base(nameof(BasicConv2d))
    {
        conv = nn.Conv2d(inCh, outCh, (kernel.H, kernel.W), stride: (stride, stride), padding: (padding.H, padding.W), bias: false);
        bn = nn.BatchNorm2d(outCh, eps: 1e-3);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => F.relu(bn.call(conv.call(x)));
}

internal static class Pools
{
    /// <summary>The 3×3, stride 1, padded pool feeding a block's pool branch.</summary>
    public static Tensor Branch(Tensor x, BranchPool kind) => kind switch
    {
        BranchPool.Max => F.max_pool2d(x, 3, 1, 1),
        _ => F.avg_pool2d(x, 3, 1, 1, count_include_pad: kind == BranchPool.Average),
    };

    public static readonly (int, int) Row7 = (1, 7), Col7 = (7, 1), Row3 = (1, 3), Col3 = (3, 1);
    public static readonly (int, int) PadRow7 = (0, 3), PadCol7 = (3, 0), PadRow3 = (0, 1), PadCol3 = (1, 0);
}

/// <summary>35×35 block: 1×1, 5×5, double 3×3 and pool branches.</summary>
internal sealed class InceptionA : nn.Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1x1, branch5x5_1, branch5x5_2, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3, branch_pool;
    private readonly BranchPool pool;

    public InceptionA(int inCh, int poolFeatures, BranchPool pool) : base(nameof(InceptionA))
    {
        this.pool = pool;
        branch1x1 = new BasicConv2d(inCh, 64, 1);
        branch5x5_1 = new BasicConv2d(inCh, 48, 1);
        branch5x5_2 = new BasicConv2d(48, 64, 5, padding: 2);
        branch3x3dbl_1 = new BasicConv2d(inCh, 64, 1);
        branch3x3dbl_2 = new BasicConv2d(64, 96, 3, padding: 1);
        branch3x3dbl_3 = new BasicConv2d(96, 96, 3, padding: 1);
        branch_pool = new BasicConv2d(inCh, poolFeatures, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => cat([
        branch1x1.call(x),
        branch5x5_2.call(branch5x5_1.call(x)),
        branch3x3dbl_3.call(branch3x3dbl_2.call(branch3x3dbl_1.call(x))),
        branch_pool.call(Pools.Branch(x, pool))], 1);
}

/// <summary>35→17 reduction.</summary>
internal sealed class InceptionB : nn.Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch3x3, branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3;

    public InceptionB(int inCh) : base(nameof(InceptionB))
    {
        branch3x3 = new BasicConv2d(inCh, 384, 3, stride: 2);
        branch3x3dbl_1 = new BasicConv2d(inCh, 64, 1);
        branch3x3dbl_2 = new BasicConv2d(64, 96, 3, padding: 1);
        branch3x3dbl_3 = new BasicConv2d(96, 96, 3, stride: 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => cat([
        branch3x3.call(x),
        branch3x3dbl_3.call(branch3x3dbl_2.call(branch3x3dbl_1.call(x))),
        F.max_pool2d(x, 3, 2)], 1);
}

/// <summary>17×17 block with factorised 7×7 convolutions.</summary>
internal sealed class InceptionC : nn.Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1x1, branch7x7_1, branch7x7_2, branch7x7_3,
        branch7x7dbl_1, branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5, branch_pool;
    private readonly BranchPool pool;

    public InceptionC(int inCh, int c7, BranchPool pool) : base(nameof(InceptionC))
    {
        this.pool = pool;
        branch1x1 = new BasicConv2d(inCh, 192, 1);
        branch7x7_1 = new BasicConv2d(inCh, c7, 1);
        branch7x7_2 = new BasicConv2d(c7, c7, Pools.Row7, padding: Pools.PadRow7);
        branch7x7_3 = new BasicConv2d(c7, 192, Pools.Col7, padding: Pools.PadCol7);
        branch7x7dbl_1 = new BasicConv2d(inCh, c7, 1);
        branch7x7dbl_2 = new BasicConv2d(c7, c7, Pools.Col7, padding: Pools.PadCol7);
        branch7x7dbl_3 = new BasicConv2d(c7, c7, Pools.Row7, padding: Pools.PadRow7);
        branch7x7dbl_4 = new BasicConv2d(c7, c7, Pools.Col7, padding: Pools.PadCol7);
        branch7x7dbl_5 = new BasicConv2d(c7, 192, Pools.Row7, padding: Pools.PadRow7);
        branch_pool = new BasicConv2d(inCh, 192, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var seven = branch7x7_3.call(branch7x7_2.call(branch7x7_1.call(x)));
        var dbl = branch7x7dbl_1.call(x);
        foreach (var conv in new[] { branch7x7dbl_2, branch7x7dbl_3, branch7x7dbl_4, branch7x7dbl_5 }) dbl = conv.call(dbl);
        return cat([branch1x1.call(x), seven, dbl, branch_pool.call(Pools.Branch(x, pool))], 1);
    }
}

/// <summary>17→8 reduction.</summary>
internal sealed class InceptionD : nn.Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch3x3_1, branch3x3_2, branch7x7x3_1, branch7x7x3_2, branch7x7x3_3, branch7x7x3_4;

    public InceptionD(int inCh) : base(nameof(InceptionD))
    {
        branch3x3_1 = new BasicConv2d(inCh, 192, 1);
        branch3x3_2 = new BasicConv2d(192, 320, 3, stride: 2);
        branch7x7x3_1 = new BasicConv2d(inCh, 192, 1);
        branch7x7x3_2 = new BasicConv2d(192, 192, Pools.Row7, padding: Pools.PadRow7);
        branch7x7x3_3 = new BasicConv2d(192, 192, Pools.Col7, padding: Pools.PadCol7);
        branch7x7x3_4 = new BasicConv2d(192, 192, 3, stride: 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => cat([
        branch3x3_2.call(branch3x3_1.call(x)),
        branch7x7x3_4.call(branch7x7x3_3.call(branch7x7x3_2.call(branch7x7x3_1.call(x)))),
        F.max_pool2d(x, 3, 2)], 1);
}

/// <summary>8×8 block with split 1×3 / 3×1 branches.</summary>
internal sealed class InceptionE : nn.Module<Tensor, Tensor>
{
    private readonly BasicConv2d branch1x1, branch3x3_1, branch3x3_2a, branch3x3_2b,
        branch3x3dbl_1, branch3x3dbl_2, branch3x3dbl_3a, branch3x3dbl_3b, branch_pool;
    private readonly BranchPool pool;

    public InceptionE(int inCh, BranchPool pool) : base(nameof(InceptionE))
    {
        this.pool = pool;
        branch1x1 = new BasicConv2d(inCh, 320, 1);
        branch3x3_1 = new BasicConv2d(inCh, 384, 1);
        branch3x3_2a = new BasicConv2d(384, 384, Pools.Row3, padding: Pools.PadRow3);
        branch3x3_2b = new BasicConv2d(384, 384, Pools.Col3, padding: Pools.PadCol3);
        branch3x3dbl_1 = new BasicConv2d(inCh, 448, 1);
        branch3x3dbl_2 = new BasicConv2d(448, 384, 3, padding: 1);
        branch3x3dbl_3a = new BasicConv2d(384, 384, Pools.Row3, padding: Pools.PadRow3);
        branch3x3dbl_3b = new BasicConv2d(384, 384, Pools.Col3, padding: Pools.PadCol3);
        branch_pool = new BasicConv2d(inCh, 192, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var three = branch3x3_1.call(x);
        var dbl = branch3x3dbl_2.call(branch3x3dbl_1.call(x));
        return cat([
            branch1x1.call(x),
            cat([branch3x3_2a.call(three), branch3x3_2b.call(three)], 1),
            cat([branch3x3dbl_3a.call(dbl), branch3x3dbl_3b.call(dbl)], 1),
            branch_pool.call(Pools.Branch(x, pool))], 1);
    }
}

/// <summary>The auxiliary classifier of torchvision's weights: present for their keys, never run here.</summary>
internal sealed class InceptionAux : nn.Module<Tensor, Tensor>
{
    private readonly BasicConv2d conv0, conv1;
    private readonly Linear fc;

    public InceptionAux(int inCh, int classes) : base(nameof(InceptionAux))
    {
        conv0 = new BasicConv2d(inCh, 128, 1);
        conv1 = new BasicConv2d(128, 768, 5);
        fc = nn.Linear(768, classes);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) =>
        fc.call(F.adaptive_avg_pool2d(conv1.call(conv0.call(F.avg_pool2d(x, 5, 3))), [1, 1]).flatten(1));
}
