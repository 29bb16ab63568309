using TorchSharp;
using UKan.Losses;
using UKan.Models;
using UKan.Training;
using static TorchSharp.torch;

namespace UKan.Tests.Training;

/// <summary>
/// U-Net++ with deep supervision trains on the mean of the loss over its four heads (the reference train.py's
/// <c>loss /= len(outputs)</c>) and is scored on its last head: checked on a fixed batch, through the trainer's step.
/// </summary>
public class DeepSupervisionTests
{
    static ModelSpec Spec(bool deepSupervision) =>
        new ModelSpec { Architecture = Architecture.UNetPlusPlus }.WithOptions(new ConvUNetOptions { Width = 8, DeepSupervision = deepSupervision });

    static (Tensor Images, Tensor Targets) Batch()
    {
        var gen = new Generator(11);
        return (randn(2, 3, 32, 32, generator: gen), (rand(2, 1, 32, 32, generator: gen) > 0.7).to(float32));
    }

    [Fact]
    public void Loss_is_the_mean_of_the_four_heads_losses_and_the_last_head_is_scored()
    {
        _ = TestTorch.Runtime;
        manual_seed(3);
        var model = ModelFactory.Create(Spec(true));
        model.eval();
        using var noGrad = no_grad();
        var (x, t) = Batch();
        var supervised = Assert.IsAssignableFrom<IDeepSupervision>(model);
        var outputs = supervised.Outputs(x);
        Assert.Equal(4, outputs.Count);
        var bce = new BceDiceLoss();
        var heads = outputs.Select(o => bce.call(o, t).item<float>()).ToArray();
        Assert.True(heads.Distinct().Count() == 4, "the four heads should give four different losses on random weights");

        var (loss, logits) = ModelLoss.Of(model, bce, x, t);
        Assert.Equal(heads.Average(), loss.item<float>(), 1e-6);
        TestTorch.AssertClose(outputs[^1], logits, atol: 0, rtol: 0, what: "scored output = last head");
        TestTorch.AssertClose(outputs[^1], model.call(x), atol: 0, rtol: 0, what: "forward = last head");

        // Without deep supervision: one head, the plain loss.
        var plain = ModelFactory.Create(Spec(false));
        plain.eval();
        var (plainLoss, plainLogits) = ModelLoss.Of(plain, bce, x, t);
        Assert.Equal(bce.call(plain.call(x), t).item<float>(), plainLoss.item<float>());
        Assert.Equal([2L, 1, 32, 32], plainLogits.shape);
    }

    [Fact]
    public void The_training_step_backpropagates_the_mean_loss_into_every_head()
    {
        _ = TestTorch.Runtime;
        manual_seed(4);
        var model = ModelFactory.Create(Spec(true));
        model.train();
        var (x, t) = Batch();
        float expected;
        using (no_grad())
        {
            // Training-mode batch norm normalises with the batch's own statistics: the step's forward sees the same outputs.
            var bce = new BceDiceLoss();
            expected = ((IDeepSupervision)model).Outputs(x).Select(o => bce.call(o, t).item<float>()).Average();
        }
        var heads = model.named_parameters().Where(p => p.name.StartsWith("final")).ToDictionary(p => p.name, p => p.parameter.detach().clone());
        Assert.Equal(["final1.bias", "final1.weight", "final2.bias", "final2.weight", "final3.bias", "final3.weight", "final4.bias", "final4.weight"],
            heads.Keys.Order());
        using var optimizer = new FlatAdam(ParameterGroups.Official(model.named_parameters().Select(p => (p.name, p.parameter)).ToList(), lr: 1e-3));
        using var step = new TrainingStep(model, optimizer, new BceDiceLoss(), 2, 3, 1, 32, 32, CPU, graphs: false, channelsLast: false);
        var losses = new List<double>();
        for (int i = 0; i < 8; i++)
        {
            using (no_grad())
            {
                step.Images.copy_(x);
                step.Targets.copy_(t);
            }
            step.ResetSums();
            step.Run();
            losses.Add(step.ReadMeans().Loss);
        }
        Assert.Equal(expected, losses[0], 1e-5);
        Assert.True(losses[^1] < losses[0], $"the loss on one repeated batch did not fall ({losses[0]} → {losses[^1]})");
        foreach (var (name, before) in heads)
            Assert.False(before.equal(model.named_parameters().Single(p => p.name == name).parameter).all().item<bool>(), $"{name} was not trained");
    }
}
