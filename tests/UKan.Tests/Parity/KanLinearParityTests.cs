using TorchSharp;
using UKan.Layers;
using static TorchSharp.torch;

namespace UKan.Tests.Parity;

/// <summary>
/// KANLinear against the official layer's tensors (shared/fixtures, README there): every fixture whose json names
/// in_features, configured from the json alone, on both evaluation paths where the fast one applies.
/// </summary>
public class KanLinearParityTests
{
    const double Atol = 1e-5, Rtol = 1e-4;

    static (KanLinear Layer, Dictionary<string, Tensor> T, ParityFixtures.Fixture F) Load(string name, KanPath path)
    {
        _ = TestTorch.Runtime;
        var f = ParityFixtures.Get(name);
        var t = UKan.Checkpoints.SafeTensors.Read(f.TensorsPath).Tensors;
        var options = new KanLinearOptions
        {
            GridSize = f.Int("grid_size", 5),
            SplineOrder = f.Int("spline_order", 3),
            ScaleNoise = f.Double("scale_noise", 0.1),
            ScaleBase = f.Double("scale_base", 1.0),
            ScaleSpline = f.Double("scale_spline", 1.0),
            StandaloneSplineScaler = f.Bool("enable_standalone_scale_spline", true),
            GridEps = f.Double("grid_eps", 0.02),
            GridMin = f.Config.TryGetProperty("grid_range", out var r) ? r[0].GetDouble() : -1.0,
            GridMax = f.Config.TryGetProperty("grid_range", out var r2) ? r2[1].GetDouble() : 1.0,
            BaseActivation = Enum.Parse<BaseActivation>(f.String("base_activation") ?? "SiLU", ignoreCase: true),
        };
        var layer = new KanLinear(f.Int("in_features", 0), f.Int("out_features", 0), options) { Path = path };
        var state = layer.state_dict();
        using (no_grad())
            foreach (var (key, value) in t.Where(kv => kv.Key.StartsWith("param.")))
                state[key["param.".Length..]].copy_(value);
        layer.RefreshGridCache();
        return (layer, t, f);
    }

    public static TheoryData<string, KanPath> Cases()
    {
        var data = new TheoryData<string, KanPath>();
        foreach (var name in ParityFixtures.KanLinear())
        {
            data.Add(name, KanPath.General);
            var (layer, _, _) = Load(name, KanPath.Auto);
            if (layer.UsesFastPath) data.Add(name, KanPath.Fast);
        }
        return data;
    }

    [Theory, MemberData(nameof(Cases))]
    public void Parity_output(string name, KanPath path)
    {
        var (layer, t, _) = Load(name, path);
        TestTorch.AssertClose(t["y"], layer.call(t["x"]), Atol, Rtol, "y");
    }

    [Theory, MemberData(nameof(ParityFixtures.KanLinear), MemberType = typeof(ParityFixtures))]
    public void Parity_bases(string name)
    {
        var (layer, t, _) = Load(name, KanPath.General);
        TestTorch.AssertClose(t["bases"], layer.BSplines(t["x"]), Atol, Rtol, "bases");
    }

    [Theory, MemberData(nameof(Cases))]
    public void Parity_gradients_of_the_stated_loss(string name, KanPath path)
    {
        var (layer, t, f) = Load(name, path);
        var x = t["x"].clone().requires_grad_(true);
        var y = layer.call(x);
        var loss = new LossExpression(f.String("loss") ?? "sum(y)", new Dictionary<string, object>
        {
            ["y"] = y, ["x"] = x, ["out"] = layer.OutFeatures, ["in"] = layer.InFeatures,
        }).Evaluate();
        loss.backward();
        TestTorch.AssertClose(t["grad.x"], x.grad!, Atol, Rtol, "grad.x");
        foreach (var (pname, p) in layer.named_parameters())
            TestTorch.AssertClose(t[$"grad.{pname}"], p.grad!, Atol, Rtol, $"grad.{pname}");
    }

    [Theory, MemberData(nameof(ParityFixtures.KanLinear), MemberType = typeof(ParityFixtures))]
    public void Parity_regularization_loss(string name)
    {
        var (layer, t, f) = Load(name, KanPath.Auto);
        _ = layer.call(t["x"]);
        var reg = layer.RegularizationLoss(f.Double("regularize_activation", 1.0), f.Double("regularize_entropy", 1.0));
        TestTorch.AssertClose(t["regularization_loss"].reshape(-1), reg.reshape(-1), Atol, Rtol, "regularization_loss");
    }

    [Theory, MemberData(nameof(ParityFixtures.KanLinear), MemberType = typeof(ParityFixtures))]
    public void Parity_update_grid(string name)
    {
        var (layer, t, f) = Load(name, KanPath.Auto);
        layer.UpdateGrid(t["update_grid.x"], f.Double("margin", 0.01));
        TestTorch.AssertClose(t["update_grid.grid"], layer.Grid, Atol, Rtol, "update_grid.grid");
        TestTorch.AssertClose(t["update_grid.spline_weight"], layer.SplineWeight, Atol, Rtol, "update_grid.spline_weight");
        // An adapted grid is not uniform, so the general path must be chosen automatically.
        Assert.False(layer.UsesFastPath);
        TestTorch.AssertClose(t["update_grid.y"], layer.call(t["x"]), Atol, Rtol, "update_grid.y");
    }
}
