using TorchSharp;
using UKan.Models;
using UKan.Models.Inception;
using UKan.Tests.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Diffusion;

/// <summary>
/// The Inception v3 networks FID and IS are defined on, through the generic <see cref="NetworkTester"/>: a classifier
/// of images scaled to [−1, 1]. The generic checks feed 107×107 images (Inception takes 75 and more; 299 is what the
/// metrics use, checked for the output widths) to stay fast on a CPU.
/// </summary>
public abstract class InceptionModelTester : NetworkTester
{
    protected abstract InceptionVariant Variant { get; }

    protected abstract long PublishedParameters { get; }

    protected abstract int Classes { get; }

    protected override nn.Module BuildSmall(long seed) => Seeded(seed, () => new InceptionV3(Variant));

    protected override Tensor[] SmallInputs() => [rand(2, 3, 107, 107) * 2 - 1];

    protected override Tensor Run(nn.Module model, Tensor[] inputs) => ((InceptionV3)model).call(inputs[0]);

    protected override Tensor Loss(Tensor output) => nn.functional.cross_entropy(output, tensor(new long[] { 0, Classes - 1 }));

    protected override IEnumerable<(Func<long> Count, long Published)> PublishedCounts =>
        [(() => ModelFactory.CountParameters(new InceptionV3(Variant)), PublishedParameters)];

    /// <summary>
    /// torchvision's auxiliary classifier is loaded with its weights but takes part only in torchvision's training
    /// loss, which this network is not trained with: its forward never reaches it.
    /// </summary>
    protected override bool IsFrozenOnPurpose(string name, TorchSharp.Modules.Parameter parameter) => name.StartsWith("AuxLogits.");

    [Fact]
    public void Features_and_logits_have_the_published_widths()
    {
        var net = (InceptionV3)BuildSmall(0);
        using var noGrad = no_grad();
        var x = rand(2, 3, 299, 299) * 2 - 1;
        Assert.Equal([2L, 2048], net.Features(x).shape);
        var logits = net.call(x);
        Assert.Equal([2L, Classes], logits.shape);
        Assert.True(logits.isfinite().all().item<bool>());
    }
}

/// <summary>
/// pytorch-fid's network: torchvision's without the auxiliary head (conv0 128·768 + BN 256, conv1 768·128·25 + BN
/// 1,536, fc 768·1000 + 1000 = 3,326,696) and with 1008 classes instead of 1000 (+8·2048 + 8): 23,850,960.
/// </summary>
public sealed class FidInceptionModelTests : InceptionModelTester
{
    protected override InceptionVariant Variant => InceptionVariant.Fid;
    protected override long PublishedParameters => 23_850_960;
    protected override int Classes => 1008;
}

/// <summary>torchvision's inception_v3, whose documentation lists 27,161,264 parameters (auxiliary head included).</summary>
public sealed class TorchvisionInceptionModelTests : InceptionModelTester
{
    protected override InceptionVariant Variant => InceptionVariant.Torchvision;
    protected override long PublishedParameters => 27_161_264;
    protected override int Classes => 1000;
}
