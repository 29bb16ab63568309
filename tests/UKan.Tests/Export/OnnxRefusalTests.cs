using UKan.Models;

namespace UKan.Tests.Export;

/// <summary>What the exporter has no emitters for is refused with one line naming the model, not written wrongly.</summary>
public class OnnxRefusalTests
{
    [Fact]
    public void A_softmax_model_is_refused_because_the_graph_would_apply_a_sigmoid()
    {
        _ = TestTorch.Runtime;
        var spec = new ModelSpec { EmbedDims = [32, 40, 64], Preset = "tiny", NumClasses = 3, Loss = SegmentationLoss.CeDice };
        var e = Assert.Throws<UserError>(() => OnnxCheck.Export(ModelFactory.Create(spec)));
        Assert.Contains("softmax (ce-dice)", e.Message);
    }
}
