using TorchSharp;
using UKan.Diagnostics;
using UKan.Layers;
using UKan.Losses;
using UKan.Models;
using static TorchSharp.torch;

namespace UKan.Tests.Parity;

/// <summary>
/// Seg U-KAN against the official model's tensors: every fixture whose json names embed_dims. Weights come from the
/// fixture; outputs in evaluation and training mode, the BCE+Dice loss and the stored gradients must match.
/// </summary>
public class SegUKanParityTests
{
    const double Atol = 1e-5, Rtol = 1e-4;

    internal static (SegUKan Model, Dictionary<string, Tensor> T, ReferenceFixtures.Fixture F) Load(string name)
    {
        _ = TestTorch.Runtime;
        var f = ParityFixtures.Get(name);
        var t = f.ReadTensors();
        return (ReferenceFixtures.LoadSegUKan(f, t), t, f);
    }

    [Theory, MemberData(nameof(ParityFixtures.UKan), MemberType = typeof(ParityFixtures))]
    public void Parity_outputs_with_the_weights_read_from_the_official_pth(string name)
    {
        var (reference, t, f) = Load(name);
        if (f.PthPath is null) Assert.Skip($"fixture {name} ships no .pth; its safetensors cases cover the weights");
        SegUKan FromPth()
        {
            var m = (SegUKan)ModelFactory.Create(reference.Spec);
            UKan.Checkpoints.StateDictLoader.Load(m, UKan.Checkpoints.PthFile.ReadStateDict(f.PthPath), f.PthPath);
            return m;
        }
        var training = FromPth();
        training.train();
        TestTorch.AssertClose(t["y_train"], training.call(t["x"]), Atol, Rtol, "y_train from .pth");
        var model = FromPth();
        ReferenceFixtures.UndoRecordedTrainingPass(model, t["x"], t);
        model.eval();
        using var _ = no_grad();
        TestTorch.AssertClose(t["y_eval"], model.call(t["x"]), Atol, Rtol, "y_eval from .pth");
    }

    [Theory, MemberData(nameof(ParityFixtures.UKan), MemberType = typeof(ParityFixtures))]
    public void Parity_parameter_count_and_state_dict_keys(string name)
    {
        var (model, t, f) = Load(name);
        Assert.Equal(f.Config.GetProperty("params").GetInt64(), ModelFactory.CountParameters(model));
        var fileKeys = t.Keys.Where(k => k.StartsWith("param.")).Select(k => k["param.".Length..]).Order().ToArray();
        Assert.Equal(fileKeys, model.state_dict().Keys.Order().ToArray());
    }

    [Theory, MemberData(nameof(ParityFixtures.UKan), MemberType = typeof(ParityFixtures))]
    public void Parity_eval_output(string name)
    {
        var (model, t, _) = Load(name);
        ReferenceFixtures.UndoRecordedTrainingPass(model, t["x"], t);
        model.eval();
        using var _ = no_grad();
        TestTorch.AssertClose(t["y_eval"], model.call(t["x"]), Atol, Rtol, "y_eval");
    }

    [Theory, MemberData(nameof(ParityFixtures.UKan), MemberType = typeof(ParityFixtures))]
    public void Parity_train_output_loss_and_gradients(string name)
    {
        var (model, t, _) = Load(name);
        model.train();
        var y = model.call(t["x"]);
        TestTorch.AssertClose(t["y_train"], y, Atol, Rtol, "y_train");
        var loss = new BceDiceLoss().call(y, t["target"]);
        TestTorch.AssertClose(t["loss"].reshape(-1), loss.reshape(-1), Atol, Rtol, "loss");
        loss.backward();
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var checkedAny = false;
        foreach (var (key, expected) in t.Where(kv => kv.Key.StartsWith("grad.")))
        {
            TestTorch.AssertClose(expected, parameters[key["grad.".Length..]].grad!, Atol, Rtol, key);
            checkedAny = true;
        }
        Assert.True(checkedAny, "the fixture stores no gradients");
    }
}

/// <summary>
/// The official UKAN class default (embed dims 256/320/512): every state-dict key and shape, for the official kan and
/// no_kan settings (the same model: the official no_kan flag never reaches the blocks), from ukan_full_shapes.json.
/// </summary>
public class SegUKanFullShapesParityTests
{
    [Theory]
    [InlineData("kan")]
    [InlineData("no_kan")]
    public void Parity_full_model_state_dict_keys_and_shapes(string setting)
    {
        _ = TestTorch.Runtime;
        var path = Path.Combine(ParityFixtures.Folder(), "ukan_full_shapes.json");
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
        var entry = doc.RootElement.GetProperty(setting);
        var expected = entry.GetProperty("state_dict").EnumerateObject()
            .ToDictionary(p => p.Name, p => p.Value.EnumerateArray().Select(v => v.GetInt64()).ToArray());
        var model = ModelFactory.Create(new ModelSpec { EmbedDims = ModelPresets.Resolve("large"), Preset = "large" });
        var actual = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.shape);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, shape) in expected) Assert.Equal(shape, actual[key]);
        Assert.Equal(entry.GetProperty("params").GetInt64(), ModelFactory.CountParameters(model));
    }
}
